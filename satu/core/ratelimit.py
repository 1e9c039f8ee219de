"""Rate limits that every worker shares.

Built on the `limits` library: hourly moving windows (`hit`, `exhausted`) and per-minute
sliding window counters (`hit_per_minute`, the exchange gateway's per-consumer limits). With
`SATU_REDIS_URL` set, counters live in Redis, so N workers on M machines enforce one limit;
without it they live in the process, which is right for the single-process demo only. Keys are
hashed: an API key or an address never appears in the store. If the store is unreachable,
requests are let through and the failure is logged: flood protection must not take the
service down with it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

from satu.core.config import Settings

log = logging.getLogger(__name__)


class LocalWindows:
    """Sliding-window counters in this process, for the `memory://` store (one worker).

    The same count as `limits`' sliding window counter (this window's calls plus the last
    window's, weighted by how much of it still overlaps, rounded down). `limits`' own
    in-memory storage starts a timer thread to expire keys every 10 ms while calls arrive:
    on the gateway's hot path that cost about 5 % of the CPU of a call and stalled the event
    loop while each thread started. Entries are dropped once two windows old.
    """

    MAX_KEYS = 100_000

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int, int]] = {}  # key -> (window no., now, before)

    def hit(self, key: str, limit: int) -> int | None:
        """Count one call; None when allowed, else whole seconds until one would be."""
        now = self._clock()
        number = int(now // self.window)
        elapsed = now - number * self.window
        with self._lock:
            was, current, previous = self._counts.get(key, (number, 0, 0))
            if was != number:
                current, previous = 0, (current if was == number - 1 else 0)
            overlap = (self.window - elapsed) / self.window
            if math.floor(previous * overlap) + current + 1 > limit:
                self._counts[key] = (number, current, previous)
                return self._retry_after(limit, current, previous, elapsed)
            if len(self._counts) >= self.MAX_KEYS:
                self._forget_old(number)
            self._counts[key] = (number, current + 1, previous)
            return None

    def _retry_after(self, limit: int, current: int, previous: int, elapsed: float) -> int:
        rest = self.window - elapsed  # until this window ends
        if current + 1 <= limit and previous:
            # the last window's weight falls until it counts fewer than (limit - current)
            rest = self.window - (limit - current) * self.window / previous - elapsed
        return max(1, math.floor(rest) + 1)  # strictly past the point it is reached

    def _forget_old(self, number: int) -> None:
        self._counts = {k: v for k, v in self._counts.items() if v[0] >= number - 1}


class RateLimits:
    """Per-key limits in a shared (Redis) or in-process store."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        self.storage_uri = storage_uri
        storage = storage_from_string(storage_uri)
        self._limiter = MovingWindowRateLimiter(storage)
        self._sliding = SlidingWindowCounterRateLimiter(storage)
        self._windows = LocalWindows() if not self.shared else None

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

    def hit_per_minute(self, namespace: str, key: str, per_minute: int) -> int | None:
        """Count one event against a per-minute sliding window counter; None when allowed,
        else the seconds until the next is allowed. In process: `LocalWindows`."""
        if self._windows is not None:
            return self._windows.hit(f"{namespace}\n{key}", per_minute)
        item = RateLimitItemPerMinute(per_minute)
        return self._ask(self._sliding, self._sliding.hit, item, namespace, key)

    def _check(self, namespace: str, key: str, per_hour: int, *, count: bool) -> int | None:
        check = self._limiter.hit if count else self._limiter.test
        return self._ask(self._limiter, check, RateLimitItemPerHour(per_hour), namespace, key)

    def _ask(
        self,
        limiter: MovingWindowRateLimiter | SlidingWindowCounterRateLimiter,
        check: Callable[[RateLimitItem, str, str], bool],
        item: RateLimitItem,
        namespace: str,
        key: str,
    ) -> int | None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        try:
            if check(item, namespace, digest):
                return None
            stats = limiter.get_window_stats(item, namespace, digest)
        except Exception:
            log.exception("rate-limit store unreachable; letting the request through")
            return None
        return max(1, int(stats.reset_time - time.time()) + 1)
