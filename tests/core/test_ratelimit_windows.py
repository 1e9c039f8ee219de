"""Per-minute sliding window counters (`RateLimits.hit_per_minute`, the exchange gateway's
per-consumer limits): in process (`LocalWindows`, memory://) and in the shared store (Redis),
which must count alike. The gateway's own refusal is in tests/exchange/test_gateway."""

from __future__ import annotations

import threading
import uuid

import pytest

from satu.core.ratelimit import LocalWindows, RateLimits
from satu.exchange.breaker import DEFAULT_RATE_PER_MINUTE
from tests.core.test_ratelimit import _redis_or_skip


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = 600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_allows_the_limit_then_says_how_long_until_the_window_ends() -> None:
    clock = Clock(600.0)  # the start of a window
    windows = LocalWindows(clock=clock)
    assert [windows.hit("a", 3) for _ in range(3)] == [None, None, None]
    clock.now += 15
    assert windows.hit("a", 3) == 46  # nothing of an earlier window: wait for the next
    assert windows.hit("b", 3) is None  # every consumer has its own count


def test_the_last_window_weighs_as_much_as_still_overlaps() -> None:
    clock = Clock(600.0)
    windows = LocalWindows(clock=clock)
    for _ in range(4):
        assert windows.hit("a", 4) is None
    clock.now = 661.0  # 1 s into the next window: the 4 count as 3.93, rounded down 3
    assert windows.hit("a", 4) is None  # 3 + 0 + 1 <= 4
    retry = windows.hit("a", 4)  # 3 + 1 + 1 > 4
    # the last window counts 2 once its weight is under 3: 15 s into the window, 14 s on
    assert retry == 15
    clock.now = 675.0  # exactly 3: still refused
    assert windows.hit("a", 4) is not None
    clock.now = 676.0
    assert windows.hit("a", 4) is None  # 2 + 1 + 1 <= 4


def test_a_full_window_waits_for_the_next() -> None:
    clock = Clock(600.0)
    windows = LocalWindows(clock=clock)
    for _ in range(10):
        windows.hit("a", 10)
    assert windows.hit("a", 10) == 61  # the new window starts at 660 and counts these 10
    clock.now = 659.5
    assert windows.hit("a", 10) is not None
    clock.now = 660.5  # the 10 now count as 9.9, rounded down 9, as `limits` counts
    assert windows.hit("a", 10) is None


def test_a_window_two_back_is_forgotten() -> None:
    clock = Clock(600.0)
    windows = LocalWindows(clock=clock)
    for _ in range(2):
        windows.hit("a", 2)
    assert windows.hit("a", 2) is not None
    clock.now += 120
    assert [windows.hit("a", 2) for _ in range(2)] == [None, None]


def test_refused_calls_are_not_counted() -> None:
    clock = Clock(600.0)
    windows = LocalWindows(clock=clock)
    assert windows.hit("a", 1) is None
    for _ in range(100):
        assert windows.hit("a", 1) is not None
    clock.now = 720.0  # two windows on: allowed again, the refusals left nothing behind
    assert windows.hit("a", 1) is None


def test_old_keys_are_dropped_when_the_table_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LocalWindows, "MAX_KEYS", 10)
    clock = Clock(600.0)
    windows = LocalWindows(clock=clock)
    for n in range(10):
        windows.hit(f"old-{n}", 5)
    clock.now += 180
    windows.hit("new", 5)
    assert len(windows._counts) == 1


def test_concurrent_hits_count_each_call_once() -> None:
    windows = LocalWindows()
    allowed: list[int] = []

    def caller() -> None:
        allowed.append(sum(windows.hit("a", 500) is None for _ in range(200)))

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 500


def test_the_memory_store_counts_in_process() -> None:
    limits = RateLimits("memory://")
    consumer = f"ID/GOV/1/{uuid.uuid4().hex}"
    assert [limits.hit_per_minute("exchange", consumer, 2) for _ in range(2)] == [None, None]
    retry = limits.hit_per_minute("exchange", consumer, 2)
    assert retry is not None and 1 <= retry <= 60
    # a consumer's 0: the default limit (the gateway passes it), which 3 calls are far from
    assert limits.hit_per_minute("exchange", consumer, DEFAULT_RATE_PER_MINUTE) is None


def test_workers_sharing_redis_enforce_one_limit() -> None:
    url = _redis_or_skip()
    worker_a, worker_b = RateLimits(url), RateLimits(url)
    consumer = f"ID/GOV/1/{uuid.uuid4().hex}"
    assert worker_a.hit_per_minute("exchange", consumer, 2) is None
    assert worker_b.hit_per_minute("exchange", consumer, 2) is None
    retry = worker_a.hit_per_minute("exchange", consumer, 2)
    assert retry is not None and 1 <= retry <= 61
    assert worker_b.hit_per_minute("exchange", consumer, 2) is not None


def test_an_unreachable_store_lets_calls_through() -> None:
    limits = RateLimits("redis://127.0.0.1:1/0")
    assert [limits.hit_per_minute("exchange", "ID/GOV/1/a", 1) for _ in range(3)] == [None] * 3
