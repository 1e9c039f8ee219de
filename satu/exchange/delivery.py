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

import logging
import threading
from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session, sessionmaker

from satu.core.db import transaction
from satu.exchange.delivery_attempts import BACKOFF_BASE_SECONDS as BACKOFF_BASE_SECONDS
from satu.exchange.delivery_attempts import BACKOFF_CAP_SECONDS as BACKOFF_CAP_SECONDS
from satu.exchange.delivery_attempts import DEFAULT_MAX_ATTEMPTS as DEFAULT_MAX_ATTEMPTS
from satu.exchange.delivery_attempts import _pinned as _pinned
from satu.exchange.delivery_attempts import backoff_seconds as backoff_seconds
from satu.exchange.delivery_attempts import record_result as record_result
from satu.exchange.delivery_attempts import send as send
from satu.exchange.delivery_claims import LEASE_SECONDS as LEASE_SECONDS
from satu.exchange.delivery_claims import PushJob as PushJob
from satu.exchange.delivery_claims import _build_job as _build_job
from satu.exchange.delivery_claims import _sign as _sign
from satu.exchange.delivery_claims import claim_due as claim_due
from satu.exchange.delivery_queue import list_deliveries as list_deliveries
from satu.exchange.delivery_queue import queue_counts as queue_counts
from satu.exchange.delivery_queue import requeue as requeue

log = logging.getLogger(__name__)

PUSH_TIMEOUT_SECONDS = 10.0


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
