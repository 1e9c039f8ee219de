"""The delivery queue for people: deliveries by status (the dead-letter list by default, for
the CLI and the admin API), re-queueing dead deliveries with a fresh attempt count, and the
count of deliveries in each status."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, aliased

from satu.core.db import utcnow
from satu.exchange.models import Delivery, Event, EventType, Subscription, Subsystem
from satu.exchange.pubsub_schemas import DeliveryInfo


def list_deliveries(
    *, session: Session, status: str = "dead", limit: int = 100, offset: int = 0
) -> list[DeliveryInfo]:
    """Deliveries in one status (the dead-letter list by default), oldest first."""
    publisher = aliased(Subsystem)
    subscriber = aliased(Subsystem)
    rows = session.execute(
        select(Delivery, Subscription, EventType, publisher, subscriber)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .join(Event, Event.id == Delivery.event_id)
        .join(EventType, EventType.id == Event.event_type_id)
        .join(publisher, publisher.id == EventType.publisher_subsystem_id)
        .join(subscriber, subscriber.id == Subscription.subscriber_subsystem_id)
        .where(Delivery.status == status)
        .order_by(Delivery.id)
        .limit(min(max(limit, 1), 1000))
        .offset(max(offset, 0))
    ).all()
    from satu.exchange.pubsub import subsystem_info

    return [
        DeliveryInfo(
            id=d.id,
            event_id=d.event_id,
            event_type=et.event_type,
            publisher=subsystem_info(pub).xroad_id,
            subscription_id=s.id,
            subscriber=subsystem_info(sub).xroad_id,
            purpose=s.purpose,
            mode=s.mode,
            push_url=s.push_url,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_error=d.last_error,
            delivered_at=d.delivered_at,
        )
        for d, s, et, pub, sub in rows
    ]


def requeue(
    *, session: Session, delivery_ids: list[int] | None = None, now: datetime | None = None
) -> int:
    """Put dead deliveries (these ids, or all) back in the queue with a fresh attempt count."""
    condition = Delivery.status == "dead"
    if delivery_ids is not None:
        if not delivery_ids:
            return 0
        condition = and_(condition, Delivery.id.in_(delivery_ids))
    result = session.execute(
        update(Delivery)
        .where(condition)
        .values(status="pending", attempts=0, next_attempt_at=now or utcnow(), last_error="")
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(result.rowcount or 0)


def queue_counts(*, session: Session) -> dict[str, int]:
    """How many deliveries are in each status."""
    from sqlalchemy import func

    return {
        status: int(count)
        for status, count in session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        ).all()
    }
