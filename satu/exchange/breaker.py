"""Operations for the gateway: per-service circuit breakers, per-consumer rate limits, metrics.

- Circuit breaker (one per service, per worker process): `closed` counts consecutive
  failures (the provider unreachable, timing out, or answering 5xx); at `FAILURE_THRESHOLD`
  it opens and calls fail at once with `Server.ServerProxy.ServiceUnavailable` for
  `COOL_DOWN` seconds; then `half-open` lets one probe through: success closes it, failure
  opens it again.
- Rate limits: a consumer subsystem may send `rate_limit_per_minute` calls per minute through
  the gateway (`DEFAULT_RATE_PER_MINUTE` when 0), counted by `satu.core.ratelimit`
  (`RateLimits.hit_per_minute`: Redis when configured, so all workers share one limit; else in
  each worker process).
- Prometheus metrics on the app's registry: calls and errors per service, latency histogram.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

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
