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
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from jsonschema import exceptions as jsonschema_errors
from jsonschema import validators
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu.core.config import get_settings
from satu.core.db import utcnow
from satu.exchange import lawful, registry
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
    EventItem,
    EventStatus,
    EventTypeIn,
    EventTypeOut,
    MemberRef,
    SubscriptionIn,
    SubscriptionOptions,
    SubscriptionOut,
)
from satu.exchange.schemas import LogRecordIn, SubsystemInfo
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


def _event_type_row(session: Session, publisher_id: int, event_type: str) -> EventType | None:
    return session.scalars(
        select(EventType).where(
            EventType.publisher_subsystem_id == publisher_id, EventType.event_type == event_type
        )
    ).first()


def _require_event_type(session: Session, publisher_id: int, event_type: str) -> EventType:
    row = _event_type_row(session, publisher_id, event_type)
    if row is None:
        raise not_found(f"Unknown event type {event_type!r} in this room.")
    return row


def _event_service(session: Session, publisher_id: int, event_type: str) -> ExchangeService | None:
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
    if _event_type_row(session, publisher.id, data.eventType) is not None:
        raise conflict(f"Event type {data.eventType!r} already exists.")
    row = EventType(
        publisher_subsystem_id=publisher.id,
        event_type=data.eventType,
        description=data.description,
        schema=data.schema_,
        created_at=utcnow(),
    )
    session.add(row)
    if _event_service(session, publisher.id, data.eventType) is None:
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
    row = _event_type_row(session, publisher.id, event_type)
    return _event_type_out(row) if row is not None else None


def delete_event_type(*, session: Session, publisher: SubsystemInfo, event_type: str) -> None:
    """Remove an event type with its subscriptions, events and subscription rights (404 if none)."""
    row = _require_event_type(session, publisher.id, event_type)
    service = _event_service(session, publisher.id, event_type)
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
    _require_event_type(session, publisher.id, event_type)
    service = _event_service(session, publisher.id, event_type)
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
    service = _event_service(session, publisher.id, event_type)
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
    row = _event_type_row(session, publisher.id, event_type)
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
    service = _event_service(session, publisher.id, event_type)
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


# --- subscriptions -----------------------------------------------------------------------------


def _subscription_out(session: Session, row: Subscription, event_type: str) -> SubscriptionOut:
    subscriber = get_subsystem(session=session, subsystem_id=row.subscriber_subsystem_id)
    assert subscriber is not None
    return SubscriptionOut(
        id=row.id,
        subscriberId=member_ref(subscriber),
        eventType=event_type,
        delivery="PUSH" if row.mode == "push" else "PULL",
        options=SubscriptionOptions(**(row.options or {})),
        pushUrl=row.push_url,
        purpose=row.purpose or None,
        active=row.active,
    )


def _subscription_row(
    session: Session, event_type_id: int, subscriber_id: int
) -> Subscription | None:
    return session.scalars(
        select(Subscription).where(
            Subscription.event_type_id == event_type_id,
            Subscription.subscriber_subsystem_id == subscriber_id,
        )
    ).first()


def _check_item(item: SubscriptionIn, event_type: str, subscriber: SubsystemInfo) -> str | None:
    """Refuse a bad subscription item; the stated purpose (checked as the gateway does) or None."""
    purpose = lawful.check_purpose(item.purpose) if item.purpose is not None else None
    if item.eventType is not None and item.eventType != event_type:
        raise bad_request("eventType in the body differs from the one in the path.")
    if item.subscriberId is not None and item.subscriberId != member_ref(subscriber):
        raise bad_request("subscriberId must be the calling subsystem.")
    if item.delivery == "PUSH" and not item.pushUrl:
        raise bad_request("A PUSH subscription needs a pushUrl.")
    if item.delivery == "PUSH" and item.pushUrl:
        from satu.exchange import urlguard

        try:
            urlguard.check_url(item.pushUrl)
        except urlguard.ForbiddenURL as exc:
            raise bad_request(
                f"pushUrl {exc}; Satu does not push to such addresses "
                "(SATU_EXCHANGE_ALLOW_PRIVATE_URLS)."
            ) from None
    return purpose


def subscribe(
    *,
    session: Session,
    publisher: SubsystemInfo,
    event_type: str,
    subscriber: SubsystemInfo,
    item: SubscriptionIn,
) -> SubscriptionOut:
    """Subscribe the caller to an event type (403 without the right, 409 if subscribed).

    `item.purpose` (the caller's X-Road-Purpose) is what a legal mandate must be registered for to
    let a resident's event through; None stores '' and leaves only the resident's consent.
    """
    row_type = _require_event_type(session, publisher.id, event_type)
    purpose = _check_item(item, event_type, subscriber)
    if not may_subscribe(
        session=session, publisher=publisher, event_type=event_type, subscriber=subscriber
    ):
        raise XRoadError(
            "Client.AccessDenied",
            f"{subscriber.xroad_id} has no access right to subscribe to {event_type!r}.",
        )
    existing = _subscription_row(session, row_type.id, subscriber.id)
    if existing is not None:
        if existing.active:
            raise conflict("Subscription already exists.")
        session.delete(existing)
        session.flush()
    row = Subscription(
        id=str(uuid.uuid4()),
        event_type_id=row_type.id,
        subscriber_subsystem_id=subscriber.id,
        mode="push" if item.delivery == "PUSH" else "pull",
        push_url=item.pushUrl if item.delivery == "PUSH" else None,
        options=item.options.model_dump(),
        purpose=purpose or "",
        active=True,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _subscription_out(session, row, event_type)


def list_subscriptions(
    *, session: Session, publisher: SubsystemInfo, subscriber: SubsystemInfo
) -> list[SubscriptionOut]:
    """The caller's active subscriptions in a room."""
    rows = session.execute(
        select(Subscription, EventType.event_type)
        .join(EventType, EventType.id == Subscription.event_type_id)
        .where(
            EventType.publisher_subsystem_id == publisher.id,
            Subscription.subscriber_subsystem_id == subscriber.id,
            Subscription.active.is_(True),
        )
        .order_by(EventType.event_type)
    ).all()
    return [_subscription_out(session, row, name) for row, name in rows]


def _require_subscription(
    session: Session, publisher: SubsystemInfo, event_type: str, subscriber: SubsystemInfo
) -> tuple[EventType, Subscription]:
    row_type = _require_event_type(session, publisher.id, event_type)
    row = _subscription_row(session, row_type.id, subscriber.id)
    if row is None or not row.active:
        raise not_found("Subscription missing.")
    return row_type, row


def get_subscription(
    *, session: Session, publisher: SubsystemInfo, event_type: str, subscriber: SubsystemInfo
) -> SubscriptionOut:
    """The caller's subscription to an event type (404 if none)."""
    _, row = _require_subscription(session, publisher, event_type, subscriber)
    return _subscription_out(session, row, event_type)


def update_subscription(
    *,
    session: Session,
    publisher: SubsystemInfo,
    event_type: str,
    subscriber: SubsystemInfo,
    item: SubscriptionIn,
) -> SubscriptionOut:
    """Change delivery mode, push URL, options or purpose (kept when none is stated)."""
    _, row = _require_subscription(session, publisher, event_type, subscriber)
    purpose = _check_item(item, event_type, subscriber)
    row.mode = "push" if item.delivery == "PUSH" else "pull"
    row.push_url = item.pushUrl if item.delivery == "PUSH" else None
    row.options = item.options.model_dump()
    if purpose is not None:
        row.purpose = purpose
    session.flush()
    return _subscription_out(session, row, event_type)


def unsubscribe(
    *, session: Session, publisher: SubsystemInfo, event_type: str, subscriber: SubsystemInfo
) -> None:
    """Cancel the caller's subscription; its undelivered events are cancelled too."""
    _, row = _require_subscription(session, publisher, event_type, subscriber)
    session.query(Delivery).filter(
        Delivery.subscription_id == row.id, Delivery.status.in_(("pending", "sending"))
    ).update({Delivery.status: "cancelled"}, synchronize_session=False)
    session.delete(row)
    session.flush()


# --- publishing --------------------------------------------------------------------------------


def _validate_event(schema: dict[str, Any] | None, payload: dict[str, Any]) -> None:
    if not schema:
        return
    validator_cls = validators.validator_for(schema)
    error = jsonschema_errors.best_match(validator_cls(schema).iter_errors(payload))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise bad_request(f"event does not match its type's schema at {where}: {error.message}")


def _lawful_basis(
    session: Session, service_id: int | None, subscriber: SubsystemInfo, nik: str, purpose: str
) -> str:
    """`mandate:<id>` or `consent:<id>` for sending this resident's event to `subscriber`, or ''.

    A mandate counts only when it is in force and registered for the subscription's `purpose`
    (the gateway's rule); a subscription without a purpose can rely on consent alone.
    """
    if service_id is not None and purpose:
        mandate = registry.find_mandate(
            session=session,
            service_id=service_id,
            client_member_class=subscriber.member_class,
            client_member_code=subscriber.member_code,
            purpose=purpose,
        )
        if mandate is not None:
            return f"mandate:{mandate.id}"
    from satu.identity import service as identity

    consent = identity.consent_for_agency(session=session, nik=nik, agency_id=subscriber.agency_id)
    return f"consent:{consent.consent_id}" if consent is not None else ""


def _no_basis_note(purpose: str) -> str:
    """Why a resident's event was withheld from a subscription stating `purpose`."""
    if not purpose:
        return (
            "no lawful basis for this resident: no consent, and the subscription states no "
            "purpose (a mandate counts only for its purpose)"
        )
    return f"no lawful basis for this resident: no consent, and no mandate for purpose {purpose!r}"


def publish(
    *,
    session: Session,
    publisher: SubsystemInfo,
    event_type: str,
    payload: dict[str, Any],
    nik: str | None = None,
    transaction_id: str | None = None,
    purpose: str = "",
    user_id: str | None = None,
) -> EventItem:
    """Publish an event: check its schema, log it, and queue a delivery per active subscription."""
    row_type = _require_event_type(session, publisher.id, event_type)
    _validate_event(row_type.schema, payload)
    from satu.exchange import transparency

    event_id = str(uuid.uuid4())
    now = utcnow()
    service = _event_service(session, publisher.id, event_type)
    receipt = transparency.append(
        session=session,
        record=LogRecordIn(
            kind="event",
            logged_at=now,
            transaction_id=transaction_id or event_id,
            request_id=event_id,
            client_id=publisher.xroad_id,
            client_agency_id=publisher.agency_id,
            service_id=f"{publisher.xroad_id}/{quote(event_service_code(event_type), safe='')}",
            provider_agency_id=publisher.agency_id,
            method="POST",
            operation=f"publish {event_type}",
            nik=nik,
            user_id=user_id,
            purpose=purpose or f"event:{event_type}",
            lawful_basis="",
            status=201,
            outcome="ok",
        ),
    )
    event = Event(
        id=event_id,
        event_type_id=row_type.id,
        payload=payload,
        subject_key=transparency.subject_key(nik=nik) if nik else None,
        published_at=now,
        log_index=receipt.index,
    )
    session.add(event)
    session.flush()
    subscriptions = session.scalars(
        select(Subscription).where(
            Subscription.event_type_id == row_type.id, Subscription.active.is_(True)
        )
    ).all()
    for sub in subscriptions:
        status, note = "pending", ""
        subscriber = get_subsystem(session=session, subsystem_id=sub.subscriber_subsystem_id)
        if subscriber is None or not may_subscribe(
            session=session, publisher=publisher, event_type=event_type, subscriber=subscriber
        ):
            status, note = "withheld", "subscriber no longer holds the access right"
        elif nik:
            basis = _lawful_basis(
                session, service.id if service else None, subscriber, nik, sub.purpose
            )
            if not basis:
                status, note = "withheld", _no_basis_note(sub.purpose)
            else:
                note = basis
        session.add(
            Delivery(
                event_id=event_id,
                subscription_id=sub.id,
                status=status,
                attempts=0,
                next_attempt_at=now,
                last_error=note if status == "withheld" else "",
            )
        )
    session.flush()
    return event_item(session=session, event=event, publisher=publisher, event_type=event_type)


def event_item(
    *, session: Session, event: Event, publisher: SubsystemInfo, event_type: str
) -> EventItem:
    """The spec's `EventItem` of an event (the log index is its `sequence`)."""
    return EventItem(
        id=event.id,
        sequence=event.log_index,
        publisherId=member_ref(publisher),
        eventType=event_type,
        event=event.payload,
        publishedAt=event.published_at,
    )


def _require_event(
    session: Session, publisher: SubsystemInfo, event_type: str, event_id: str
) -> tuple[EventType, Event]:
    row_type = _require_event_type(session, publisher.id, event_type)
    event = session.get(Event, event_id) if len(event_id) <= 36 else None
    if event is None or event.event_type_id != row_type.id:
        raise not_found("Event missing.")
    return row_type, event


def event_status(
    *, session: Session, publisher: SubsystemInfo, event_type: str, event_id: str
) -> EventStatus:
    """A published event with its delivery counts by status."""
    _, event = _require_event(session, publisher, event_type, event_id)
    counts = dict(
        session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.event_id == event.id)
            .group_by(Delivery.status)
        ).all()
    )
    item = event_item(session=session, event=event, publisher=publisher, event_type=event_type)
    return EventStatus(**item.model_dump(), deliveries={k: int(v) for k, v in counts.items()})


def cancel_event(
    *, session: Session, publisher: SubsystemInfo, event_type: str, event_id: str
) -> int:
    """Stop processing an event: its undelivered deliveries are cancelled (the log keeps it)."""
    _, event = _require_event(session, publisher, event_type, event_id)
    count = (
        session.query(Delivery)
        .filter(Delivery.event_id == event.id, Delivery.status.in_(("pending", "sending")))
        .update({Delivery.status: "cancelled"}, synchronize_session=False)
    )
    session.flush()
    return int(count)


# --- pull --------------------------------------------------------------------------------------


def _pull_subscription(
    session: Session, publisher: SubsystemInfo, event_type: str, subscriber: SubsystemInfo
) -> tuple[EventType, Subscription]:
    row_type = _require_event_type(session, publisher.id, event_type)
    row = _subscription_row(session, row_type.id, subscriber.id)
    if row is None or not row.active:
        raise conflict("No subscription to this event type.")
    if row.mode != "pull":
        raise conflict("This subscription is delivered by PUSH; switch it to PULL to pull.")
    return row_type, row


def expire_old(*, session: Session, subscription: Subscription) -> int:
    """Mark the subscription's pending deliveries older than its TTL as expired."""
    ttl = int((subscription.options or {}).get("TTL", 3600))
    cutoff = utcnow() - timedelta(seconds=ttl)
    old_events = select(Event.id).where(Event.published_at < cutoff)
    count = (
        session.query(Delivery)
        .filter(
            Delivery.subscription_id == subscription.id,
            Delivery.status.in_(("pending", "sending")),
            Delivery.event_id.in_(old_events),
        )
        .update(
            {Delivery.status: "expired", Delivery.last_error: f"older than TTL {ttl}s"},
            synchronize_session=False,
        )
    )
    return int(count)


def pull_next(
    *, session: Session, publisher: SubsystemInfo, event_type: str, subscriber: SubsystemInfo
) -> EventItem | None:
    """The oldest unacknowledged event of a PULL subscription, or None."""
    _, sub = _pull_subscription(session, publisher, event_type, subscriber)
    expire_old(session=session, subscription=sub)
    row = session.execute(
        select(Delivery, Event)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.subscription_id == sub.id, Delivery.status == "pending")
        .order_by(Event.published_at, Event.log_index, Delivery.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    delivery, event = row
    delivery.attempts += 1
    session.flush()
    return event_item(session=session, event=event, publisher=publisher, event_type=event_type)


def acknowledge(
    *,
    session: Session,
    publisher: SubsystemInfo,
    event_type: str,
    subscriber: SubsystemInfo,
    event_id: str,
) -> None:
    """Confirm receipt of a pulled event (404 if it is not waiting for this subscriber)."""
    _, sub = _pull_subscription(session, publisher, event_type, subscriber)
    if len(event_id) > 36:  # event ids are UUIDs; never match a longer id by its prefix
        raise not_found("No such event waiting for acknowledgement.")
    delivery = session.scalars(
        select(Delivery).where(
            Delivery.subscription_id == sub.id,
            Delivery.event_id == event_id,
            Delivery.status == "pending",
        )
    ).first()
    if delivery is None:
        raise not_found("No such event waiting for acknowledgement.")
    delivery.status = "delivered"
    delivery.delivered_at = utcnow()
    session.flush()
