"""Claiming due push deliveries and preparing their requests: in one short transaction a
worker picks due rows (PostgreSQL: `FOR UPDATE SKIP LOCKED`; every backend: a compare-and-set
update, so two workers never both claim one delivery), keeps FIFO subscriptions to one event
at a time, marks each `sending` with a lease, and signs its POST with the publisher's member key
(RFC 9421); a delivery whose request cannot be prepared goes `dead`. The worker that uses these
jobs is `delivery.py`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, aliased

from satu.core.db import utcnow
from satu.exchange.models import Delivery, Event, EventType, Subscription, Subsystem
from satu.exchange.pubsub import get_subsystem
from satu.exchange.pubsub_events import event_item, expire_old
from satu.exchange.schemas import SubsystemInfo

log = logging.getLogger("satu.exchange.delivery")  # the name its records had before the split

LEASE_SECONDS = 120


@dataclass
class PushJob:
    """One claimed delivery, ready to send."""

    delivery_id: int
    attempts: int
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _sign(session: Session, publisher: SubsystemInfo, request: httpx.Request) -> None:
    """Sign the push request with the publisher's hosted member key (RFC 9421, label `satu`)."""
    from satu.exchange import keys, signatures

    key_id, private_key = keys.signing_key(
        session=session, member_class=publisher.member_class, member_code=publisher.member_code
    )
    signatures.sign_request(
        request, key_id=key_id, private_key=private_key, body=request.content or b""
    )


def _build_job(session: Session, delivery: Delivery, sub: Subscription) -> PushJob | None:
    event = session.get(Event, delivery.event_id)
    event_type = session.get(EventType, event.event_type_id) if event else None
    publisher = (
        get_subsystem(session=session, subsystem_id=event_type.publisher_subsystem_id)
        if event_type
        else None
    )
    if event is None or event_type is None or publisher is None or not sub.push_url:
        return None
    item = event_item(
        session=session, event=event, publisher=publisher, event_type=event_type.event_type
    )
    body = json.dumps(item.model_dump(mode="json"), separators=(",", ":")).encode()
    request = httpx.Request(
        "POST",
        sub.push_url,
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Road-Client": publisher.xroad_id,
            "X-Road-Id": event.id,
            "X-Satu-Event-Type": event_type.event_type,
            "X-Satu-Delivery-Attempt": str(delivery.attempts + 1),
        },
    )
    _sign(session, publisher, request)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return PushJob(delivery.id, delivery.attempts, sub.push_url, body, headers)


def claim_due(
    *, session: Session, limit: int = 20, lease_seconds: int = LEASE_SECONDS
) -> list[PushJob]:
    """Claim up to `limit` due push deliveries for this worker and prepare their requests."""
    now = utcnow()
    earlier = aliased(Delivery)
    due = (
        select(Delivery, Subscription)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .join(Subsystem, Subsystem.id == Subscription.subscriber_subsystem_id)
        .where(
            Subscription.mode == "push",
            Subscription.active.is_(True),
            Subsystem.enabled.is_(True),
            Delivery.status.in_(("pending", "sending")),
            Delivery.next_attempt_at <= now,
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=Delivery)
    jobs: list[PushJob] = []
    for delivery, sub in session.execute(due).all():
        if expire_old(session=session, subscription=sub):
            session.refresh(delivery)
            if delivery.status == "expired":
                continue
        if (sub.options or {}).get("FIFO"):
            ahead = session.scalar(
                select(
                    exists().where(
                        earlier.subscription_id == sub.id,
                        earlier.id < delivery.id,
                        earlier.status.in_(("pending", "sending")),
                    )
                )
            )
            if ahead:
                continue
        claimed = session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery.id,
                Delivery.status == delivery.status,
                Delivery.attempts == delivery.attempts,
                Delivery.next_attempt_at == delivery.next_attempt_at,
            )
            .values(status="sending", next_attempt_at=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            continue
        try:
            job = _build_job(session, delivery, sub)
        except Exception as exc:  # a signing failure must not block the queue
            log.warning("push delivery %s not signed: %s", delivery.id, type(exc).__name__)
            job = None
        if job is None:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery.id)
                .values(status="dead", last_error="could not prepare the request")
                .execution_options(synchronize_session=False)
            )
            continue
        jobs.append(job)
    session.flush()
    return jobs
