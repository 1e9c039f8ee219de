"""Flood protection: a sliding one-hour window per IP address, account and API key.

Counters live in the process (one per worker); with N workers a source gets at most N times
the limit, which still stops floods. A shared store can replace `RateLimiter` later.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from fastapi import Request

from satu.complaints.config import ComplaintSettings, get_complaint_settings
from satu.core.errors import Problem

WINDOW_SECONDS = 3600.0


class RateLimiter:
    """Count events per key in a sliding window."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, now: float | None = None) -> int | None:
        """Record one event; None when allowed, else the seconds until the next is allowed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= limit:
                return int(hits[0] + WINDOW_SECONDS - now) + 1
            hits.append(now)
            if len(self._hits) > 100_000:
                self._evict(now)
            return None

    def _evict(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - WINDOW_SECONDS]:
            del self._hits[key]


def limiter_of(request: Request) -> RateLimiter:
    """The application's limiter (created on first use)."""
    state = request.app.state
    limiter = getattr(state, "complaints_limiter", None)
    if limiter is None:
        limiter = RateLimiter()
        state.complaints_limiter = limiter
    return limiter


def settings_of(request: Request) -> ComplaintSettings:
    """The complaint settings for this app (tests may set `app.state.complaint_settings`)."""
    return getattr(request.app.state, "complaint_settings", None) or get_complaint_settings()


def client_ip(request: Request) -> str:
    """The caller's address as the server sees it."""
    return request.client.host if request.client else "unknown"


def check_intake_rate(
    request: Request, *, account_id: str | None = None, api_key: str | None = None
) -> None:
    """Refuse with 429 when this IP, account or API key has filed too much in the last hour."""
    settings = settings_of(request)
    limiter = limiter_of(request)
    checks = []
    if api_key:
        # A gateway submits for many people: it is limited by its key, not its address.
        checks.append((f"key:{api_key}", settings.rate_per_api_key_per_hour))
    else:
        checks.append((f"ip:{client_ip(request)}", settings.rate_per_ip_per_hour))
    if account_id:
        checks.append((f"account:{account_id}", settings.rate_per_account_per_hour))
    for key, limit in checks:
        wait = limiter.hit(key, limit)
        if wait is not None:
            raise Problem(
                "rate-limited",
                "Too many reports from this source; try again later.",
                headers={"Retry-After": str(wait)},
            )
