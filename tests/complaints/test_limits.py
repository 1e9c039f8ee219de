"""The sliding-window limiter behind the intake limits."""

from __future__ import annotations

from satu.complaints.limits import WINDOW_SECONDS, RateLimiter


def test_window_slides() -> None:
    limiter = RateLimiter()
    assert limiter.hit("ip:a", 2, now=0) is None
    assert limiter.hit("ip:a", 2, now=10) is None
    wait = limiter.hit("ip:a", 2, now=20)
    assert wait is not None and 0 < wait <= WINDOW_SECONDS
    assert limiter.hit("ip:b", 2, now=20) is None  # other sources are unaffected
    assert limiter.hit("ip:a", 2, now=WINDOW_SECONDS + 1) is None  # the first hit expired


def test_refused_hits_do_not_extend_the_ban() -> None:
    limiter = RateLimiter()
    limiter.hit("account:x", 1, now=0)
    for moment in (100, 200, 300):
        assert limiter.hit("account:x", 1, now=moment) is not None
    assert limiter.hit("account:x", 1, now=WINDOW_SECONDS + 0.5) is None
