"""Publish/subscribe between members (GovStack IM PubSub): event types, subscriptions, events.

A *room* is the publishing subsystem (`/r1/{instance}/{class}/{code}/{subsystem}/...`). Its owner
registers event types; each event type is also registered as a service of the publisher with the
code `event:{eventType}`, so that the ordinary access rights (and legal mandates) of the registry
say who may subscribe: a subscriber needs an access right on that service. The `:` keeps the code
out of reach of the gateway's `/r1` forwarding (X-Road identifiers may not contain it).

Publishing checks the event against its type's JSON Schema, appends an `event` record to the
transparency log and creates one delivery per active subscription (push or pull). An event that
names a resident (`nik`) is delivered only to subscribers with a lawful basis: a legal mandate on
the event service for the purpose the subscription states (as on the gateway, a mandate counts
only for its own purpose), or the resident's consent to the subscriber's agency; the others'
deliveries are `withheld`. A subscription that states no purpose relies on consent alone.
Functions flush and never commit.

This module: rooms, event types and subscription rights, and the helpers the others share.
Subscriptions are `pubsub_subs.py`; publishing, event status and pull are `pubsub_events.py`;
push delivery is `delivery.py`.
"""

from __future__ import annotations

from jsonschema import exceptions as jsonschema_errors
from jsonschema import validators
from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.core.config import get_settings
from satu.core.db import utcnow
from satu.exchange import registry
from satu.exchange.models import (
    AccessRight,
    Delivery,
    Event,
    EventType,
    ExchangeService,
    Mandate,
    Subscription,
    Subsystem,
)
from satu.exchange.pubsub_schemas import (
    EventTypeIn,
    EventTypeOut,
    MemberRef,
)
from satu.exchange.schemas import SubsystemInfo
from satu.exchange.xroad import XRoadError

EVENT_SERVICE_PREFIX = registry.EVENT_SERVICE_PREFIX
# Delivery states: pending -> sending (claimed by a worker) -> delivered | dead; pull deliveries
# go pending -> delivered on acknowledgement. cancelled: the publisher stopped the event;
# expired: older than the subscription's TTL; withheld: no lawful basis for that subscriber.
STATUSES = ("pending", "sending", "delivered", "dead", "cancelled", "expired", "withheld")


def not_found(message: str) -> XRoadError:
    """A 404 in X-Road's error format."""
    return XRoadError("Client.NotFound", message, status=404)


def conflict(message: str) -> XRoadError:
    """A 409 in X-Road's error format."""
    return XRoadError("Client.Conflict", message, status=409)


def bad_request(message: str) -> XRoadError:
    """A 400 in X-Road's error format."""
    return XRoadError("Client.BadRequest", message)


def subsystem_info(row: Subsystem) -> SubsystemInfo:
    """The shared view of a subsystem row."""
    return SubsystemInfo(
        id=row.id,
        instance=get_settings().exchange_instance,
        member_class=row.member_class,
        member_code=row.member_code,
        subsystem_code=row.subsystem_code,
        agency_id=row.agency_id,
        name=row.name,
        client_id=row.client_id,
        require_signature=row.require_signature,
        rate_limit_per_minute=row.rate_limit_per_minute,
        enabled=row.enabled,
    )


def member_ref(info: SubsystemInfo) -> MemberRef:
    """A subsystem in the spec's `publisherId`/`subscriberId` shape."""
    return MemberRef(
        instanceId=info.instance,
        memberClass=info.member_class,
        memberCode=info.member_code,
        applicationCode=info.subsystem_code,
    )


def find_room(
    *, session: Session, instance: str, member_class: str, member_code: str, subsystem_code: str
) -> SubsystemInfo | None:
    """The enabled subsystem whose room this is, or None (also for another instance)."""
    if instance != get_settings().exchange_instance:
        return None
    row = session.scalars(
        select(Subsystem).where(
            Subsystem.member_class == member_class,
            Subsystem.member_code == member_code,
            Subsystem.subsystem_code == subsystem_code,
            Subsystem.enabled.is_(True),
        )
    ).first()
    return subsystem_info(row) if row is not None else None


def get_subsystem(*, session: Session, subsystem_id: int) -> SubsystemInfo | None:
    """A subsystem by id, or None."""
    row = session.get(Subsystem, subsystem_id)
    return subsystem_info(row) if row is not None else None


def event_service_code(event_type: str) -> str:
    """The service code under which subscription rights to `event_type` are granted."""
    return f"{EVENT_SERVICE_PREFIX}{event_type}"


# --- event types -------------------------------------------------------------------------------


def event_type_row(session: Session, publisher_id: int, event_type: str) -> EventType | None:
    return session.scalars(
        select(EventType).where(
            EventType.publisher_subsystem_id == publisher_id, EventType.event_type == event_type
        )
    ).first()


def require_event_type(session: Session, publisher_id: int, event_type: str) -> EventType:
    row = event_type_row(session, publisher_id, event_type)
    if row is None:
        raise not_found(f"Unknown event type {event_type!r} in this room.")
    return row


def event_service(session: Session, publisher_id: int, event_type: str) -> ExchangeService | None:
    return session.scalars(
        select(ExchangeService).where(
            ExchangeService.subsystem_id == publisher_id,
            ExchangeService.service_code == event_service_code(event_type),
        )
    ).first()


def _event_type_out(row: EventType) -> EventTypeOut:
    return EventTypeOut(eventType=row.event_type, schema_=row.schema, description=row.description)


def create_event_type(
    *, session: Session, publisher: SubsystemInfo, data: EventTypeIn
) -> EventTypeOut:
    """Register an event type in the publisher's room (409 if it exists, 400 on a bad schema)."""
    try:
        validators.validator_for(data.schema_).check_schema(data.schema_)
    except jsonschema_errors.SchemaError as exc:
        raise bad_request(f"schema is not a valid JSON Schema: {exc.message}") from None
    if event_type_row(session, publisher.id, data.eventType) is not None:
        raise conflict(f"Event type {data.eventType!r} already exists.")
    row = EventType(
        publisher_subsystem_id=publisher.id,
        event_type=data.eventType,
        description=data.description,
        schema=data.schema_,
        created_at=utcnow(),
    )
    session.add(row)
    if event_service(session, publisher.id, data.eventType) is None:
        session.add(
            ExchangeService(
                subsystem_id=publisher.id,
                service_code=event_service_code(data.eventType),
                title=f"Events: {data.eventType}",
                base_url="",
                openapi=None,
                operations=[],
                personal_data=False,
                enabled=True,
                created_at=utcnow(),
            )
        )
    session.flush()
    return _event_type_out(row)


def list_event_types(*, session: Session, publisher: SubsystemInfo) -> list[str]:
    """The event types of a room, by name."""
    return list(
        session.scalars(
            select(EventType.event_type)
            .where(EventType.publisher_subsystem_id == publisher.id)
            .order_by(EventType.event_type)
        )
    )


def get_event_type(
    *, session: Session, publisher: SubsystemInfo, event_type: str
) -> EventTypeOut | None:
    """One event type of a room, or None."""
    row = event_type_row(session, publisher.id, event_type)
    return _event_type_out(row) if row is not None else None


def delete_event_type(*, session: Session, publisher: SubsystemInfo, event_type: str) -> None:
    """Remove an event type with its subscriptions, events and subscription rights (404 if none)."""
    row = require_event_type(session, publisher.id, event_type)
    service = event_service(session, publisher.id, event_type)
    event_ids = select(Event.id).where(Event.event_type_id == row.id)
    session.query(Delivery).filter(Delivery.event_id.in_(event_ids)).delete(
        synchronize_session=False
    )
    session.query(Event).filter(Event.event_type_id == row.id).delete(synchronize_session=False)
    session.query(Subscription).filter(Subscription.event_type_id == row.id).delete(
        synchronize_session=False
    )
    if service is not None:
        session.query(AccessRight).filter(AccessRight.service_id == service.id).delete(
            synchronize_session=False
        )
        session.query(Mandate).filter(Mandate.service_id == service.id).delete(
            synchronize_session=False
        )
        session.delete(service)
    session.delete(row)
    session.flush()


# --- subscription rights -----------------------------------------------------------------------


def grant_subscription_right(
    *,
    session: Session,
    publisher: SubsystemInfo,
    event_type: str,
    subscriber: SubsystemInfo,
    granted_by: str,
) -> bool:
    """Let `subscriber` subscribe to `event_type`; False if it already could."""
    require_event_type(session, publisher.id, event_type)
    service = event_service(session, publisher.id, event_type)
    if service is None:  # pragma: no cover - created with the event type
        raise not_found("The event type has no subscription service.")
    existing = session.scalars(
        select(AccessRight).where(
            AccessRight.service_id == service.id,
            AccessRight.client_subsystem_id == subscriber.id,
        )
    ).first()
    if existing is not None:
        return False
    session.add(
        AccessRight(
            service_id=service.id,
            client_subsystem_id=subscriber.id,
            operation=None,
            granted_by=granted_by[:100],
            granted_at=utcnow(),
        )
    )
    session.flush()
    return True


def revoke_subscription_right(
    *, session: Session, publisher: SubsystemInfo, event_type: str, subscriber: SubsystemInfo
) -> bool:
    """Withdraw the right (and deactivate the subscription); False if there was none."""
    service = event_service(session, publisher.id, event_type)
    if service is None:
        return False
    count = (
        session.query(AccessRight)
        .filter(
            AccessRight.service_id == service.id,
            AccessRight.client_subsystem_id == subscriber.id,
        )
        .delete(synchronize_session=False)
    )
    row = event_type_row(session, publisher.id, event_type)
    if row is not None:
        for sub in session.scalars(
            select(Subscription).where(
                Subscription.event_type_id == row.id,
                Subscription.subscriber_subsystem_id == subscriber.id,
            )
        ):
            sub.active = False
    session.flush()
    return bool(count)


def may_subscribe(
    *, session: Session, publisher: SubsystemInfo, event_type: str, subscriber: SubsystemInfo
) -> bool:
    """Whether `subscriber` holds an access right on the event type's service."""
    if not subscriber.enabled:
        return False
    service = event_service(session, publisher.id, event_type)
    if service is None or not service.enabled:
        return False
    return (
        session.scalars(
            select(AccessRight.id).where(
                AccessRight.service_id == service.id,
                AccessRight.client_subsystem_id == subscriber.id,
            )
        ).first()
        is not None
    )
