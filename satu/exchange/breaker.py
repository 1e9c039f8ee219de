"""Operations for the gateway: per-service circuit breakers, per-consumer rate limits, metrics.

- Circuit breaker (one per service, per worker process): `closed` counts consecutive
  failures (the provider unreachable, timing out, or answering 5xx); at `FAILURE_THRESHOLD`
  it opens and calls fail at once with `Server.ServerProxy.ServiceUnavailable` for
  `COOL_DOWN` seconds; then `half-open` lets one probe through: success closes it, failure
  opens it again.
- Rate limits: a consumer subsystem may send `rate_limit_per_minute` calls per minute through
  the gateway (sliding window counter; `DEFAULT_RATE_PER_MINUTE` when 0), counted in the same
  store as `satu.core.ratelimit` (Redis when configured, so all workers share one limit; else
  in each worker process).
- Prometheus metrics on the app's registry: calls and errors per service, latency histogram.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from satu.core.metrics import LATENCY_BUCKETS

log = logging.getLogger(__name__)
MAX_METRIC_CHILDREN = 10_000  # cached label children (services x outcomes)

FAILURE_THRESHOLD = int(os.environ.get("SATU_EXCHANGE_BREAKER_FAILURES", "5"))
COOL_DOWN = float(os.environ.get("SATU_EXCHANGE_BREAKER_COOL_DOWN", "30"))
DEFAULT_RATE_PER_MINUTE = int(os.environ.get("SATU_EXCHANGE_RATE_PER_MINUTE", "6000"))

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass
class _State:
    state: str = CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False


class CircuitBreakers:
    """One breaker per service key; thread-safe, in-process."""

    def __init__(self, *, threshold: int = FAILURE_THRESHOLD, cool_down: float = COOL_DOWN) -> None:
        self.threshold = threshold
        self.cool_down = cool_down
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def state(self, key: str) -> str:
        """The breaker's state for a service (opening to half-open once cooled down)."""
        with self._lock:
            st = self._states.get(key)
            if st is None:
                return CLOSED
            if st.state == OPEN and time.monotonic() - st.opened_at >= self.cool_down:
                return HALF_OPEN
            return st.state

    def allow(self, key: str) -> bool:
        """Whether a call may go to the provider now (claims the probe when half-open)."""
        with self._lock:
            st = self._states.get(key)
            if st is None or st.state == CLOSED:
                return True
            if st.state == OPEN:
                if time.monotonic() - st.opened_at < self.cool_down:
                    return False
                st.state = HALF_OPEN
                st.probing = False
            if st.probing:
                return False
            st.probing = True
            return True

    def success(self, key: str) -> None:
        """The provider answered: close the breaker."""
        with self._lock:
            st = self._states.get(key)
            if st is not None and (st.state != CLOSED or st.failures):
                self._states[key] = _State()

    def failure(self, key: str) -> None:
        """The provider failed: count it; open at the threshold or after a failed probe."""
        with self._lock:
            st = self._states.setdefault(key, _State())
            st.failures += 1
            if st.state == HALF_OPEN or st.failures >= self.threshold:
                if st.state != OPEN:
                    log.warning("circuit opened", extra={"service": key, "failures": st.failures})
                st.state = OPEN
                st.opened_at = time.monotonic()
                st.probing = False

    def release(self, key: str) -> None:
        """A half-open probe ended without reaching the provider (e.g. refused earlier)."""
        with self._lock:
            st = self._states.get(key)
            if st is not None and st.state == HALF_OPEN:
                st.probing = False


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


class ConsumerRateLimits:
    """Calls per minute per consumer subsystem: counted in this process with the `memory://`
    store, else in the shared rate-limit store (Redis, so all workers share one limit)."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        self._local: LocalWindows | None = None
        self._limiter: SlidingWindowCounterRateLimiter | None = None
        if storage_uri.startswith("memory://"):
            self._local = LocalWindows()
        else:
            self._limiter = SlidingWindowCounterRateLimiter(storage_from_string(storage_uri))
        self._items: dict[int, RateLimitItemPerMinute] = {}

    def hit(self, consumer: str, per_minute: int) -> int | None:
        """Count one call; None when allowed, else seconds until the next is allowed."""
        per_minute = per_minute if per_minute > 0 else DEFAULT_RATE_PER_MINUTE
        if self._limiter is None:
            assert self._local is not None
            return self._local.hit(consumer, per_minute)
        item = self._items.get(per_minute)
        if item is None:
            item = self._items[per_minute] = RateLimitItemPerMinute(per_minute)
        key = hashlib.sha256(consumer.encode()).hexdigest()[:32]
        try:
            if self._limiter.hit(item, "exchange", key):
                return None
            stats = self._limiter.get_window_stats(item, "exchange", key)
        except Exception:
            log.exception("rate-limit store unreachable; letting the call through")
            return None
        return max(1, int(stats.reset_time - time.time()) + 1)


class GatewayMetrics:
    """Per-service Prometheus metrics of the gateway."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "satu_exchange_calls",
            "Calls through the exchange gateway",
            ["service", "outcome"],
            registry=registry,
        )
        self.errors = Counter(
            "satu_exchange_errors",
            "Gateway calls that failed, by X-Road error type",
            ["service", "type"],
            registry=registry,
        )
        self.latency = Histogram(
            "satu_exchange_call_duration_seconds",
            "Time for a call through the gateway, end to end",
            ["service"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.provider_latency = Histogram(
            "satu_exchange_provider_duration_seconds",
            "Time the provider backend took to answer",
            ["service"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.breaker_open = Gauge(
            "satu_exchange_breaker_open",
            "1 when the service's circuit breaker is open in this worker",
            ["service"],
            registry=registry,
        )

        # labelled children, looked up once (`labels()` validates and locks on every call)
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (str(id(metric)), *labels)
        child = self._children.get(key)
        if child is None:
            if len(self._children) >= MAX_METRIC_CHILDREN:
                self._children.clear()
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, *, service: str, outcome: str, seconds: float) -> None:
        """Record one call."""
        self._child(self.calls, service, "ok" if outcome == "ok" else "error").inc()
        if outcome != "ok":
            self._child(self.errors, service, outcome).inc()
        self._child(self.latency, service).observe(seconds)

    def breaker(self, service: str, *, is_open: bool) -> None:
        """Record whether the service's circuit breaker is open."""
        self._child(self.breaker_open, service).set(1 if is_open else 0)

    def provider_answered(self, service: str, seconds: float) -> None:
        """Record how long the provider took to answer."""
        self._child(self.provider_latency, service).observe(seconds)
