"""What the gateway keeps per app between calls: breakers, rate limits, metrics, and brief
caches of registry lookups (services, rights, mandates, consents, public keys, authenticated
consumers) and of the hosted signing keys (decrypted once per worker)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from satu.exchange import keys
from satu.exchange.breaker import CircuitBreakers, ConsumerRateLimits, GatewayMetrics
from satu.exchange.schemas import KeyInfo

CACHE_SECONDS = 5.0  # registry lookups, consents, authenticated consumers
HOSTED_KEY_SECONDS = 300.0  # hosted signing keys


class TTLCache:
    """A small dict whose entries expire; cleared whole when full."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._data: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        """The live value, or MISS."""
        hit = self._data.get(key)
        if hit is None or hit[0] < time.monotonic():
            return MISS
        return hit[1]

    def put(self, key: Any, value: Any) -> Any:
        """Remember `value` (returned) for the cache's lifetime."""
        if len(self._data) >= self.size:
            self._data.clear()
        self._data[key] = (time.monotonic() + self.seconds, value)
        return value

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()


MISS = object()


class GatewayState:
    """What the gateway keeps per app: breakers, limits, metrics, caches."""

    def __init__(self, app: Any) -> None:
        self.breakers = CircuitBreakers()
        self.limits = ConsumerRateLimits(app.state.rate_limits.storage_uri)
        self.metrics = GatewayMetrics(app.state.metrics.registry)
        self.cache = TTLCache(CACHE_SECONDS)
        self.hosted = TTLCache(HOSTED_KEY_SECONDS, size=5_000)

    def cached(self, key: Any, load: Callable[[], Any]) -> Any:
        """The cached value for `key`, loaded (and cached) on a miss."""
        value = self.cache.get(key)
        if value is MISS:
            value = self.cache.put(key, load())
        return value

    def public_key(self, session: Session, key_id: str) -> KeyInfo | None:
        """A member's registered public key (cached), None when unknown or absurd."""
        if not isinstance(key_id, str) or len(key_id) > 100:
            return None
        return self.cached(("key", key_id), lambda: keys.public_key(session=session, key_id=key_id))

    def hosted_key(
        self, session: Session, member_class: str, member_code: str
    ) -> tuple[str, Ed25519PrivateKey]:
        """The member's hosted signing key (created on first use), decrypted once per worker."""
        key = (member_class, member_code)
        value = self.hosted.get(key)
        if value is MISS:
            value = self.hosted.put(
                key,
                keys.signing_key(
                    session=session, member_class=member_class, member_code=member_code
                ),
            )
        return value


def gateway_state(app: Any) -> GatewayState:
    """The gateway's state on this app (created on first use)."""
    state = getattr(app.state, "exchange_gateway", None)
    if state is None:
        state = app.state.exchange_gateway = GatewayState(app)
    return state
