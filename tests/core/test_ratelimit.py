"""Shared rate limits: in-process for the demo, Redis for many workers."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from satu.core.config import Settings
from satu.core.ratelimit import RateLimits

REDIS_URL = os.environ.get("SATU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_or_skip() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI and not reachable at {REDIS_URL}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    return REDIS_URL


def test_memory_store_allows_up_to_the_limit_then_says_how_long_to_wait() -> None:
    limits = RateLimits()
    key = uuid.uuid4().hex
    assert [limits.hit("t", key, 3) for _ in range(3)] == [None, None, None]
    wait = limits.hit("t", key, 3)
    assert wait is not None and 1 <= wait <= 3601
    assert limits.hit("t", "another source", 3) is None
    assert limits.hit("other namespace", key, 3) is None
    assert not limits.shared


def test_exhausted_looks_without_counting() -> None:
    limits = RateLimits()
    key = uuid.uuid4().hex
    assert [limits.exhausted("t", key, 2) for _ in range(5)] == [None] * 5  # counts nothing
    assert limits.hit("t", key, 2) is None and limits.exhausted("t", key, 2) is None
    assert limits.hit("t", key, 2) is None
    wait = limits.exhausted("t", key, 2)
    assert wait is not None and 1 <= wait <= 3601
    assert limits.exhausted("t", "another source", 2) is None
    assert RateLimits("redis://127.0.0.1:1/0").exhausted("t", key, 1) is None  # store down


def test_two_workers_sharing_redis_enforce_one_limit() -> None:
    url = _redis_or_skip()
    worker_a, worker_b = RateLimits(url), RateLimits(url)
    key = uuid.uuid4().hex
    assert worker_a.hit("t", key, 2) is None
    assert worker_b.hit("t", key, 2) is None
    assert worker_a.hit("t", key, 2) is not None
    assert worker_b.hit("t", key, 2) is not None
    assert worker_a.shared


def test_keys_are_hashed_in_the_store() -> None:
    url = _redis_or_skip()
    secret = f"key:{uuid.uuid4().hex}"
    RateLimits(url).hit("t", secret, 5)
    client = redis.Redis.from_url(url)
    assert not any(secret.encode() in name for name in client.scan_iter("*"))


def test_settings_choose_the_store() -> None:
    assert not RateLimits.from_settings(Settings(redis_url="")).shared
    assert RateLimits.from_settings(Settings(redis_url="redis://127.0.0.1:6379/15")).shared


def test_an_unreachable_store_lets_requests_through() -> None:
    limits = RateLimits("redis://127.0.0.1:1/0")
    assert limits.hit("t", "anyone", 1) is None
    assert limits.hit("t", "anyone", 1) is None
