"""Flood protection: a moving one-hour window per IP address, account and API key.

Counters live in the shared store of `satu.core.ratelimit` (Redis when `SATU_REDIS_URL` is
set), so every worker on every machine enforces the same limit.
"""

from __future__ import annotations

from fastapi import Request

from satu.complaints.config import ComplaintSettings, get_complaint_settings
from satu.core.errors import Problem
from satu.core.ratelimit import RateLimits

NAMESPACE = "complaints-intake"


def limiter_of(request: Request) -> RateLimits:
    """The application's shared rate limits."""
    return request.app.state.rate_limits


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
        wait = limiter.hit(NAMESPACE, key, limit)
        if wait is not None:
            raise Problem(
                "rate-limited",
                "Too many reports from this source; try again later.",
                headers={"Retry-After": str(wait)},
            )
