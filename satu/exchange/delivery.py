"""Push delivery of published events: claim, sign, send, retry with backoff, dead-letter.

A worker claims due push deliveries in a short transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`;
every backend: a compare-and-set update, so two workers never both claim one delivery), marks
them `sending` with a lease, signs each request (RFC 9421, the publisher's member key) and
commits. It then POSTs the `EventItem` JSON to the subscriber's URL outside any transaction and
records the outcome in another: 2xx is `delivered`; anything else schedules the next attempt after
an exponential backoff (base * 2^(attempt-1), capped, with jitter) until `max_attempts`, then the
delivery is `dead` (the dead-letter list) until someone re-queues it. A worker that dies mid-way
leaves `sending` rows whose lease runs out; they are claimed again (at-least-once delivery, so
subscribers de-duplicate by event id). FIFO subscriptions get one event at a time, in order.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from satu.core.db import transaction, utcnow
from satu.exchange import urlguard
from satu.exchange.models import Delivery, Event, EventType, Subscription, Subsystem
from satu.exchange.pubsub import get_subsystem
from satu.exchange.pubsub_events import event_item, expire_old
from satu.exchange.pubsub_schemas import DeliveryInfo
from satu.exchange.schemas import SubsystemInfo

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 3600.0
LEASE_SECONDS = 120
PUSH_TIMEOUT_SECONDS = 10.0


@dataclass
class PushJob:
    """One claimed delivery, ready to send."""

    delivery_id: int
    attempts: int
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RunReport:
    """What one pass of the worker did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0

    def add(self, other: RunReport) -> None:
        self.claimed += other.claimed
        self.delivered += other.delivered
        self.retried += other.retried
        self.dead += other.dead


def backoff_seconds(attempt: int, *, base: float = BACKOFF_BASE_SECONDS) -> float:
    """Delay before the next try after `attempt` failed tries (exponential, capped, jittered)."""
    delay = min(BACKOFF_CAP_SECONDS, base * (2 ** max(0, attempt - 1)))
    return delay * (1 + random.uniform(0, 0.1))


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


def _pinned(url: str) -> tuple[str, dict[str, Any]]:
    """The URL with its host replaced by the vetted address, and the TLS name to expect.

    The address is checked by `urlguard` (no link-local/metadata, and no loopback or private
    address unless allowed) and then connected to directly, so a DNS answer that changes
    between the check and the connection cannot redirect the push. `Host` stays the one signed.
    """
    address = urlguard.pinned_address(url)
    parsed = httpx.URL(url)
    extensions: dict[str, Any] = {}
    if parsed.scheme == "https":
        extensions["sni_hostname"] = parsed.host
    return str(parsed.copy_with(host=str(address))), extensions


def send(job: PushJob, *, client: httpx.Client) -> str | None:
    """POST one job; None on a 2xx answer, else why it failed."""
    try:
        url, extensions = _pinned(job.url)
    except urlguard.ForbiddenURL as exc:
        return f"refused: pushUrl {exc}"
    except (OSError, UnicodeError, httpx.InvalidURL):
        return "connection failed: the pushUrl's host does not resolve"
    try:
        response = client.post(url, content=job.body, headers=job.headers, extensions=extensions)
    except httpx.TimeoutException:
        return "timeout"
    except httpx.HTTPError as exc:
        return f"connection failed: {type(exc).__name__}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


def record_result(
    *,
    session: Session,
    job: PushJob,
    error: str | None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_base: float = BACKOFF_BASE_SECONDS,
) -> str:
    """Store the outcome of one attempt; returns the new status."""
    now = utcnow()
    attempts = job.attempts + 1
    if error is None:
        values: dict[str, Any] = {
            "status": "delivered",
            "attempts": attempts,
            "delivered_at": now,
            "last_error": "",
        }
    elif attempts >= max_attempts:
        values = {"status": "dead", "attempts": attempts, "last_error": error[:500]}
    else:
        delay = backoff_seconds(attempts, base=backoff_base)
        values = {
            "status": "pending",
            "attempts": attempts,
            "last_error": error[:500],
            "next_attempt_at": now + timedelta(seconds=delay),
        }
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == job.delivery_id,
            Delivery.status == "sending",
            Delivery.attempts == job.attempts,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    # Cancelled (or claimed again after the lease ran out) meanwhile: leave it as it is.
    return values["status"] if result.rowcount == 1 else "superseded"


def deliver_once(
    *,
    factory: sessionmaker[Session],
    limit: int = 20,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_base: float = BACKOFF_BASE_SECONDS,
    client: httpx.Client | None = None,
    timeout: float = PUSH_TIMEOUT_SECONDS,
) -> RunReport:
    """One pass: claim due deliveries, send them, record each outcome."""
    report = RunReport()
    with transaction(factory) as session:
        jobs = claim_due(session=session, limit=limit)
    report.claimed = len(jobs)
    if not jobs:
        return report
    own_client = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        for job in jobs:
            error = send(job, client=http)
            with transaction(factory) as session:
                status = record_result(
                    session=session,
                    job=job,
                    error=error,
                    max_attempts=max_attempts,
                    backoff_base=backoff_base,
                )
            if status == "delivered":
                report.delivered += 1
            elif status == "dead":
                report.dead += 1
            elif status == "pending":
                report.retried += 1
    finally:
        if own_client:
            http.close()
    return report


def run_worker(
    *,
    factory: sessionmaker[Session],
    stop: threading.Event,
    poll_seconds: float = 1.0,
    limit: int = 20,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_base: float = BACKOFF_BASE_SECONDS,
) -> RunReport:
    """Deliver until `stop` is set, sleeping `poll_seconds` whenever nothing was due."""
    total = RunReport()
    with httpx.Client(timeout=PUSH_TIMEOUT_SECONDS, follow_redirects=False) as client:
        while not stop.is_set():
            try:
                report = deliver_once(
                    factory=factory,
                    limit=limit,
                    max_attempts=max_attempts,
                    backoff_base=backoff_base,
                    client=client,
                )
            except Exception:
                log.exception("event delivery pass failed")
                report = RunReport()
            total.add(report)
            if report.claimed == 0:
                stop.wait(poll_seconds)
    return total


class BackgroundDelivery:
    """An in-process delivery worker thread (for the demo; production runs the CLI worker)."""

    def __init__(self, factory: sessionmaker[Session], *, poll_seconds: float = 1.0) -> None:
        self.factory = factory
        self.poll_seconds = poll_seconds
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="satu-event-delivery", daemon=True)

    def _run(self) -> None:
        run_worker(factory=self.factory, stop=self.stop_event, poll_seconds=self.poll_seconds)

    def start(self) -> None:
        """Start delivering in the background."""
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the worker to finish its pass and wait for it."""
        self.stop_event.set()
        self.thread.join(timeout=timeout)


# --- dead letters and inspection -----------------------------------------------------------------


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


__all__ = [
    "BackgroundDelivery",
    "PushJob",
    "RunReport",
    "backoff_seconds",
    "claim_due",
    "deliver_once",
    "list_deliveries",
    "queue_counts",
    "record_result",
    "requeue",
    "run_worker",
    "send",
]
