"""Rate limits that every worker shares.

Built on the `limits` library (moving windows). With `SATU_REDIS_URL` set, counters live in
Redis, so N workers on M machines enforce one limit; without it they live in the process,
which is right for the single-process demo only. Keys are hashed: an API key or an address
never appears in the store. If the store is unreachable, requests are let through and the
failure is logged: flood protection must not take the service down with it.
"""

from __future__ import annotations

import hashlib
import logging
import time

from limits import RateLimitItemPerHour
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from satu.core.config import Settings

log = logging.getLogger(__name__)


class RateLimits:
    """Per-key hourly limits in a shared (Redis) or in-process store."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        self.storage_uri = storage_uri
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        """Redis when `redis_url` is configured, else in-process memory."""
        return cls(settings.redis_url or "memory://")

    @property
    def shared(self) -> bool:
        return not self.storage_uri.startswith("memory://")

    def hit(self, namespace: str, key: str, per_hour: int) -> int | None:
        """Count one event; None when allowed, else the seconds until the next is allowed."""
        return self._check(namespace, key, per_hour, count=True)

    def exhausted(self, namespace: str, key: str, per_hour: int) -> int | None:
        """Without counting: None while an event is still allowed, else the seconds to wait."""
        return self._check(namespace, key, per_hour, count=False)

    def _check(self, namespace: str, key: str, per_hour: int, *, count: bool) -> int | None:
        item = RateLimitItemPerHour(per_hour)
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        try:
            check = self._limiter.hit if count else self._limiter.test
            if check(item, namespace, digest):
                return None
            stats = self._limiter.get_window_stats(item, namespace, digest)
        except Exception:
            log.exception("rate-limit store unreachable; letting the request through")
            return None
        return max(1, int(stats.reset_time - time.time()) + 1)
