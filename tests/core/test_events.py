"""Domain events: delivered after commit, never after rollback; one failing handler is isolated."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from satu.core import events
from satu.core.db import make_sessionmaker, transaction
from tests.core.support import LogCapture


@pytest.fixture
def received() -> Iterator[list[events.Event]]:
    """Events named `test.*` that reached a subscribed handler."""
    got: list[events.Event] = []

    def handler(evt: events.Event) -> None:
        got.append(evt)

    events.subscribe("test.happened", handler)
    events.subscribe("test.other", handler)
    try:
        yield got
    finally:
        events.unsubscribe("test.happened", handler)
        events.unsubscribe("test.other", handler)


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    """Real sessions on the test database (the tests write nothing)."""
    return make_sessionmaker(engine)


def test_delivered_after_commit(factory: sessionmaker[Session], received: list) -> None:
    with transaction(factory) as session:
        session.execute(text("SELECT 1"))
        evt = events.publish(session, "test.happened", {"id": 1})
        assert received == [], "delivered before commit"
    assert received == [evt]
    assert received[0].payload == {"id": 1}
    assert received[0].occurred_at.tzinfo is UTC


def test_not_delivered_after_rollback(factory: sessionmaker[Session], received: list) -> None:
    with pytest.raises(RuntimeError), transaction(factory) as session:
        events.publish(session, "test.happened", {"id": 2})
        raise RuntimeError("abort")
    assert received == []


def test_rolled_back_events_do_not_leak_into_the_next_commit(
    factory: sessionmaker[Session], received: list
) -> None:
    session = factory()
    try:
        events.publish(session, "test.happened", {"id": "lost"})
        session.rollback()
        events.publish(session, "test.happened", {"id": "kept"})
        session.commit()
    finally:
        session.close()
    assert [e.payload["id"] for e in received] == ["kept"]


def test_closed_without_commit_drops_events(factory: sessionmaker[Session], received: list) -> None:
    session = factory()
    session.execute(text("SELECT 1"))
    events.publish(session, "test.happened", {"id": "closed"})
    session.close()
    session.execute(text("SELECT 1"))
    session.commit()
    session.close()
    assert received == []


def test_savepoint_rollback_drops_only_its_own_events(
    factory: sessionmaker[Session], received: list
) -> None:
    with transaction(factory) as session:
        events.publish(session, "test.happened", {"id": "before"})
        savepoint = session.begin_nested()
        events.publish(session, "test.happened", {"id": "in-failed-savepoint"})
        savepoint.rollback()
        with session.begin_nested():
            events.publish(session, "test.happened", {"id": "in-kept-savepoint"})
        events.publish(session, "test.happened", {"id": "after"})
    assert [e.payload["id"] for e in received] == ["before", "in-kept-savepoint", "after"]


def test_events_keep_their_order_and_names(factory: sessionmaker[Session], received: list) -> None:
    with transaction(factory) as session:
        events.publish(session, "test.other", {"n": 1})
        events.publish(session, "test.happened", {"n": 2})
        events.publish(session, "test.nobody-listens", {"n": 3})
    assert [(e.name, e.payload["n"]) for e in received] == [
        ("test.other", 1),
        ("test.happened", 2),
    ]


def test_failing_handler_does_not_stop_the_others(
    factory: sessionmaker[Session], received: list, json_logs: LogCapture
) -> None:
    def broken(evt: events.Event) -> None:
        raise ValueError("handler bug")

    events.unsubscribe("test.happened", broken)
    events.subscribe("test.happened", broken)
    # `broken` now runs after the fixture's handler; add another after it as well.
    late: list[events.Event] = []
    events.subscribe("test.happened", late.append)
    try:
        with transaction(factory) as session:
            events.publish(session, "test.happened", {"id": 3})
    finally:
        events.unsubscribe("test.happened", broken)
        events.unsubscribe("test.happened", late.append)
    assert len(received) == 1
    assert len(late) == 1
    failures = [r for r in json_logs.records() if r["message"] == "event handler failed"]
    assert len(failures) == 1
    assert failures[0]["event"] == "test.happened"
    assert "handler bug" in failures[0]["exception"]


def test_subscribe_is_idempotent_and_unsubscribe_stops_delivery(
    factory: sessionmaker[Session],
) -> None:
    got: list[events.Event] = []
    events.subscribe("test.twice", got.append)
    events.subscribe("test.twice", got.append)
    try:
        with transaction(factory) as session:
            events.publish(session, "test.twice", {})
        assert len(got) == 1
    finally:
        events.unsubscribe("test.twice", got.append)
    with transaction(factory) as session:
        events.publish(session, "test.twice", {})
    assert len(got) == 1
    events.unsubscribe("test.never-subscribed", got.append)


def test_commit_in_the_test_harness_delivers(db: Session, received: list) -> None:
    """The `db` fixture's commit releases a savepoint; events still follow the commit."""
    events.publish(db, "test.happened", {"id": "harness"})
    db.commit()
    assert [e.payload["id"] for e in received] == ["harness"]
