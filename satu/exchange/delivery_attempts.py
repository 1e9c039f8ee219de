"""One push attempt and its outcome: the POST goes to the address `urlguard` vetted (pinned, so
a DNS answer that changes in between cannot redirect it), and the result is recorded: 2xx is
`delivered`; anything else schedules the next attempt after an exponential backoff (base *
2^(attempt-1), capped, with jitter) until `max_attempts`, then the delivery is `dead`. A
delivery cancelled or claimed again meanwhile is left as it is."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.exchange import urlguard
from satu.exchange.delivery_claims import PushJob
from satu.exchange.models import Delivery

DEFAULT_MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 3600.0


def backoff_seconds(attempt: int, *, base: float = BACKOFF_BASE_SECONDS) -> float:
    """Delay before the next try after `attempt` failed tries (exponential, capped, jittered)."""
    delay = min(BACKOFF_CAP_SECONDS, base * (2 ** max(0, attempt - 1)))
    return delay * (1 + random.uniform(0, 0.1))


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
