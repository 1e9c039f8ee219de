"""Sign-in throttling and the error every account operation raises.

Failures are counted per key (a digest of the NIK typed, or the client address): past a free
allowance the key is locked with exponential back-off, and a quiet hour forgets the count.
Keys are digests, so an unknown NIK locks exactly like a known one and the table never holds
NIKs. `AccountError` with its generic messages lives here because every throttled operation
raises it. Callers use these through `accounts`.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.identity.models import Throttle

NIK_FREE_FAILURES = 5
IP_FREE_FAILURES = 30
BASE_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(hours=1)
DECAY = timedelta(hours=1)


class AccountError(Exception):
    """A refused account operation, with an English message id for the person."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        self.message = message
        self.retry_after = retry_after
        super().__init__(message)


INVALID_LOGIN = "The NIK or password is wrong."
LOCKED = "Too many failed attempts. Wait a moment and try again."


def nik_key(nik: str, prefix: str = "nik") -> str:
    """The throttle key for a typed NIK (a digest: the table never holds NIKs)."""
    return f"{prefix}:" + hashlib.sha256(nik.strip().encode()).hexdigest()[:40]


def ip_key(ip: str | None) -> str:
    """The throttle key for a client address."""
    return f"ip:{ip or 'unknown'}"


def _throttle_row(session: Session, key: str) -> Throttle:
    row = session.get(Throttle, key)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = Throttle(key=key, failures=0, last_failure_at=utcnow())
            session.add(row)
    except IntegrityError:
        row = session.get(Throttle, key)
        assert row is not None
    return row


def locked_for(*, session: Session, keys: list[str]) -> int:
    """Seconds until every key is free again (0 when none is locked)."""
    now = utcnow()
    wait = 0
    for key in keys:
        row = session.get(Throttle, key)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            wait = max(wait, int((row.locked_until - now).total_seconds()) + 1)
    return wait


def _free_failures(key: str) -> int:
    return IP_FREE_FAILURES if key.startswith("ip:") else NIK_FREE_FAILURES


def record_failure(*, session: Session, keys: list[str]) -> None:
    """Count a failure on every key; past the free allowance, lock with exponential back-off."""
    now = utcnow()
    for key in keys:
        row = _throttle_row(session, key)
        if row.last_failure_at + DECAY < now:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        over = row.failures - _free_failures(key)
        if over >= 0:
            lock = min(BASE_LOCK * (2 ** min(over, 20)), MAX_LOCK)
            row.locked_until = now + lock
    session.flush()


def clear_failures(*, session: Session, key: str) -> None:
    """Forget the failures of one key (after a success)."""
    row = session.get(Throttle, key)
    if row is not None:
        row.failures = 0
        row.locked_until = None
        session.flush()
