"""In-process domain events, published only after the transaction that raised them commits.

A domain announces a fact with `publish(session, "complaints.report_filed", {...})`;
other domains react by registering a handler with `subscribe`. Handlers run after commit,
so a rolled-back transaction never leaks an event. Handlers must not raise; failures are
logged and the remaining handlers still run.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from satu.core.db import utcnow

log = logging.getLogger(__name__)

Handler = Callable[["Event"], None]
_handlers: dict[str, list[Handler]] = defaultdict(list)
_PENDING = "satu_pending_events"


@dataclass(frozen=True)
class Event:
    """A named fact with a JSON-safe payload."""

    name: str
    payload: dict[str, Any]
    occurred_at: datetime = field(default_factory=utcnow)


def subscribe(name: str, handler: Handler) -> None:
    """Run `handler` after every committed event called `name`."""
    if handler not in _handlers[name]:
        _handlers[name].append(handler)


def unsubscribe(name: str, handler: Handler) -> None:
    """Stop running `handler` for `name`."""
    if handler in _handlers.get(name, []):
        _handlers[name].remove(handler)


def publish(session: Session, name: str, payload: dict[str, Any]) -> Event:
    """Queue an event on the session; it is delivered only if the transaction commits."""
    evt = Event(name=name, payload=payload)
    if not session.in_transaction():
        session.begin()  # what the next statement would autobegin; ties the event to it
    raised_in = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((raised_in, evt))
    return evt


def _deliver(evt: Event) -> None:
    for handler in list(_handlers.get(evt.name, [])):
        try:
            handler(evt)
        except Exception:
            log.exception("event handler failed", extra={"event": evt.name})


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    """True if `transaction` is `ended` or nested inside it (None: the session's root)."""
    if ended.parent is None:
        return True
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for _raised_in, evt in session.info.pop(_PENDING, []):
        _deliver(evt)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    """Forget the events raised in the rolled-back transaction (or savepoint) only."""
    pending = session.info.get(_PENDING)
    if pending:
        pending[:] = [item for item in pending if not _within(item[0], previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """A root transaction that ends without commit (e.g. `close()`) drops its events."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
