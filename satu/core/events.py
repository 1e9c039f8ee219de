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
from sqlalchemy.orm import Session

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
    session.info.setdefault(_PENDING, []).append(evt)
    return evt


def _deliver(evt: Event) -> None:
    for handler in list(_handlers.get(evt.name, [])):
        try:
            handler(evt)
        except Exception:
            log.exception("event handler failed", extra={"event": evt.name})


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for evt in session.info.pop(_PENDING, []):
        _deliver(evt)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
