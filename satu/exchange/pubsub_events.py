"""Publishing events and pulling them (GovStack IM PubSub): checking an event against its
type's schema, logging it, planning one delivery per active subscription (withheld without a
lawful basis for a resident's event), the event's status, cancelling, and pull with
acknowledgement. Push delivery itself is `delivery.py`. Functions flush and never commit."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from jsonschema import exceptions as jsonschema_errors
from jsonschema import validators
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.exchange import registry
from satu.exchange.models import (
    Delivery,
    Event,
    EventType,
    Subscription,
)
from satu.exchange.pubsub import (
    bad_request,
    conflict,
    event_service,
    event_service_code,
    get_subsystem,
    may_subscribe,
    member_ref,
    not_found,
    require_event_type,
)
from satu.exchange.pubsub_schemas import (
    EventItem,
    EventStatus,
)
from satu.exchange.pubsub_subs import subscription_row
from satu.exchange.schemas import LogRecordIn, SubsystemInfo

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
    row_type = require_event_type(session, publisher.id, event_type)
    _validate_event(row_type.schema, payload)
    from satu.exchange import transparency

    event_id = str(uuid.uuid4())
    now = utcnow()
    service = event_service(session, publisher.id, event_type)
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
    row_type = require_event_type(session, publisher.id, event_type)
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
    row_type = require_event_type(session, publisher.id, event_type)
    row = subscription_row(session, row_type.id, subscriber.id)
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
