"""What the gateway keeps per app between calls: breakers, rate limits, metrics, the log
writer (group commit), brief caches of registry lookups (services, rights, mandates,
consents, public keys, authenticated consumers) and the hosted signing keys (decrypted once
per worker)."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from satu.core.ratelimit import RateLimits
from satu.exchange import keys
from satu.exchange.breaker import CircuitBreakers, GatewayMetrics
from satu.exchange.gateway_log import LogWriter
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


class NeedsDatabase(BaseException):
    """Raised by `Offline` when a phase needs the database (a cache miss): the phase is then
    run again in the thread pool with a real session. A BaseException, so that no
    `except Exception` on the way turns it into a refusal."""


class Offline:
    """A stand-in session for running a phase on the event loop from the caches alone: it
    names its engine (`get_bind`) and refuses everything else with NeedsDatabase."""

    offline = True

    def __init__(self, bind: Any) -> None:
        self._bind = bind

    def get_bind(self, *_args: Any, **_kwargs: Any) -> Any:
        """The engine (cache keys use its URL); no connection is made."""
        return self._bind

    def __getattr__(self, name: str) -> Any:
        raise NeedsDatabase(name)


class GatewayState:
    """What the gateway keeps per app: breakers, limits, metrics, caches."""

    def __init__(self, app: Any) -> None:
        self.breakers = CircuitBreakers()
        self.limits: RateLimits = app.state.rate_limits
        self.metrics = GatewayMetrics(app.state.metrics.registry)
        self.cache = TTLCache(CACHE_SECONDS)
        self.hosted = TTLCache(HOSTED_KEY_SECONDS, size=5_000)
        self.factory = app.state.sessionmaker
        self.offline = Offline(self.factory.kw.get("bind"))
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LogWriter] = (
            weakref.WeakKeyDictionary()
        )

    def log_writer(self) -> LogWriter:
        """The transparency log writer of the running event loop."""
        loop = asyncio.get_running_loop()
        writer = self._writers.get(loop)
        if writer is None:
            writer = self._writers[loop] = LogWriter(self.factory)
        return writer

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
