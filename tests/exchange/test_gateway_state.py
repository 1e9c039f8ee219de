"""The gateway's per-app state: the offline stand-in session and the brief caches."""

from __future__ import annotations

import time

import pytest

from satu.exchange.gateway_state import MISS, NeedsDatabase, Offline, TTLCache


def test_offline_session_names_its_engine_and_refuses_database_work() -> None:
    offline = Offline("the-engine")
    assert offline.get_bind() == "the-engine" and offline.offline
    for name in ("execute", "scalar", "scalars", "get", "add", "begin_nested", "flush"):
        with pytest.raises(NeedsDatabase):
            getattr(offline, name)


def test_needs_database_is_not_swallowed_by_ordinary_error_handling() -> None:
    def lookup() -> None:
        try:
            Offline(None).execute("SELECT 1")
        except Exception:  # what library code around a query may do
            pytest.fail("NeedsDatabase must not be an ordinary exception")

    with pytest.raises(NeedsDatabase):
        lookup()


def test_ttl_cache_expires_and_remembers_none() -> None:
    cache = TTLCache(0.05, size=2)
    assert cache.get("a") is MISS
    assert cache.put("a", None) is None and cache.get("a") is None  # a miss is remembered
    time.sleep(0.06)
    assert cache.get("a") is MISS
    cache.put("b", 1)
    cache.put("c", 2)
    cache.put("d", 3)  # full: starts over
    assert cache.get("b") is MISS and cache.get("d") == 3
