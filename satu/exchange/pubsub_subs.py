"""Subscriptions to a publisher's event types (GovStack IM PubSub): subscribe, list, read,
update, cancel. A subscriber needs an access right on the event service (`pubsub.may_subscribe`)
and may state its purpose (`X-Road-Purpose`), which decides whether a legal mandate lets a
resident's event through (`pubsub_events`). Functions flush and never commit."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.exchange import lawful
from satu.exchange.models import (
    Delivery,
    EventType,
    Subscription,
)
from satu.exchange.pubsub import (
    bad_request,
    conflict,
    get_subsystem,
    may_subscribe,
    member_ref,
    not_found,
    require_event_type,
)
from satu.exchange.pubsub_schemas import (
    SubscriptionIn,
    SubscriptionOptions,
    SubscriptionOut,
)
from satu.exchange.schemas import SubsystemInfo
from satu.exchange.xroad import XRoadError

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


def subscription_row(
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
    row_type = require_event_type(session, publisher.id, event_type)
    purpose = _check_item(item, event_type, subscriber)
    if not may_subscribe(
        session=session, publisher=publisher, event_type=event_type, subscriber=subscriber
    ):
        raise XRoadError(
            "Client.AccessDenied",
            f"{subscriber.xroad_id} has no access right to subscribe to {event_type!r}.",
        )
    existing = subscription_row(session, row_type.id, subscriber.id)
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
    row_type = require_event_type(session, publisher.id, event_type)
    row = subscription_row(session, row_type.id, subscriber.id)
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
