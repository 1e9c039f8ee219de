"""The gateway's log writer: group commit, its own kept connection, and what happens when a
batch fails (a broken connection, a record the database refuses). On a scratch database: on
SQLite the writer's thread path, on PostgreSQL its event-loop path (`log_pg.py`)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, func, make_url, select, text

from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.core.migrations import upgrade
from satu.exchange.gateway_log import LogWriter
from satu.exchange.models import LogEntry
from tests.exchange.test_transparency import record


@pytest.fixture
def engine(scratch_database_url: str, settings) -> Iterator[Engine]:
    built = make_engine(settings, scratch_database_url)
    upgrade(built)
    yield built
    built.dispose()


def _connects(engine: Engine) -> list[int]:
    opened: list[int] = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    return opened


def _opened(writer: LogWriter, connects: list[int]) -> int:
    """Connections the writer opened: its own count on PostgreSQL, the engine's elsewhere."""
    return writer._pg.opened if writer._pg is not None else len(connects)


def _drop_connection(writer: LogWriter, engine: Engine) -> None:
    """As when the database server drops the writer's connection."""
    if writer._pg is None:
        writer._held[0].invalidate()
        return
    backend = writer._pg._held[0].info.backend_pid
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})


def _logged(engine: Engine) -> list[str]:
    with transaction(make_sessionmaker(engine)) as session:
        return list(session.scalars(select(LogEntry.transaction_id).order_by(LogEntry.idx)))


def test_calls_ending_together_share_a_commit_on_one_kept_connection(engine: Engine) -> None:
    opened = _connects(engine)
    writer = LogWriter(make_sessionmaker(engine))

    async def run() -> None:
        await asyncio.gather(*(writer.append(record(i)) for i in range(20)))
        for i in range(20, 25):  # one at a time: each its own commit, same connection
            await writer.append(record(i))

    asyncio.run(run())
    assert _logged(engine) == [f"tx-{i}" for i in range(25)]
    assert _opened(writer, opened) == 1


def test_a_broken_connection_fails_no_call_and_is_replaced(engine: Engine) -> None:
    opened = _connects(engine)
    writer = LogWriter(make_sessionmaker(engine))

    async def run() -> None:
        await writer.append(record(0))
        _drop_connection(writer, engine)
        await writer.append(record(1))  # the batch fails, then each record is retried alone
        await writer.append(record(2))

    asyncio.run(run())
    assert _logged(engine) == ["tx-0", "tx-1", "tx-2"]
    assert _opened(writer, opened) == 2


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_a_refused_record_fails_only_its_own_call(engine: Engine) -> None:
    writer = LogWriter(make_sessionmaker(engine))
    refused = record(1)
    object.__setattr__(refused, "logged_at", "not a time")  # the database will not store it

    async def run() -> list[BaseException | None]:
        results = await asyncio.gather(
            writer.append(record(0)),
            writer.append(refused),
            writer.append(record(2)),
            return_exceptions=True,
        )
        return list(results)

    results = asyncio.run(run())
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Exception)
    assert _logged(engine) == ["tx-0", "tx-2"]


def test_a_caller_that_goes_away_is_still_logged(engine: Engine) -> None:
    writer = LogWriter(make_sessionmaker(engine))

    async def run() -> None:
        task = asyncio.ensure_future(writer.append(record(0)))
        await asyncio.sleep(0)
        task.cancel()
        await writer.append(record(1))  # runs after the first batch

    asyncio.run(run())
    assert _logged(engine) == ["tx-0", "tx-1"]


def test_indices_have_no_gaps_after_failures(engine: Engine) -> None:
    writer = LogWriter(make_sessionmaker(engine))

    async def run() -> None:
        for i in range(5):
            await writer.append(record(i))
            if i == 2:
                _drop_connection(writer, engine)

    asyncio.run(run())
    with transaction(make_sessionmaker(engine)) as session:
        indices = list(session.scalars(select(LogEntry.idx).order_by(LogEntry.idx)))
        assert indices == list(range(5))
        assert session.scalar(select(func.count()).select_from(LogEntry)) == 5


def test_postgresql_appends_run_on_the_event_loop(engine: Engine) -> None:
    """On PostgreSQL the batches go out on the loop (no thread), and writers on several loops
    (as in several workers) still give every entry its own index with no gaps."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the event-loop path is PostgreSQL's")
    writers = [LogWriter(make_sessionmaker(engine)) for _ in range(3)]

    def run(k: int) -> None:
        async def appends() -> None:
            await asyncio.gather(*(writers[k].append(record(100 * k + i)) for i in range(40)))

        asyncio.run(appends())

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(writer._pg is not None and writer._pg.opened == 1 for writer in writers)
    assert all(not writer._thread._threads for writer in writers)  # no thread was started
    with transaction(make_sessionmaker(engine)) as session:
        indices = list(session.scalars(select(LogEntry.idx).order_by(LogEntry.idx)))
    assert indices == list(range(120))
    assert sorted(_logged(engine)) == sorted(
        f"tx-{100 * k + i}" for k in range(3) for i in range(40)
    )


def test_postgresql_connection_takes_the_urls_parameters_as_they_are(
    scratch_database_url: str, settings
) -> None:
    """The event-loop path connects with the engine's own parameters: a password with a space
    and `options` reach the server decoded (a URL string handed to libpq would not)."""
    if not scratch_database_url.startswith("postgresql"):
        pytest.skip("the event-loop path is PostgreSQL's")
    url = make_url(scratch_database_url)
    options = url.query["options"] + " -c application_name=satu-log -c lock_timeout=7s"
    url = url.set(password="p w%").update_query_dict({"options": options})
    built = make_engine(settings, url.render_as_string(hide_password=False))
    try:
        upgrade(built)
        writer = LogWriter(make_sessionmaker(built))

        async def run() -> list[str]:
            await writer.append(record(0))
            assert writer._pg is not None
            shown = []
            for name in ("application_name", "lock_timeout"):
                cursor = await writer._pg._held[0].execute(f"SHOW {name}")
                row = await cursor.fetchone()
                shown.append(str(row[0]) if row else "")
            return shown

        assert asyncio.run(run()) == ["satu-log", "7s"]
        assert _logged(built) == ["tx-0"]
    finally:
        built.dispose()


def test_a_batch_whose_commit_answer_is_lost_is_not_logged_twice(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The COMMIT reaches the server but its answer is lost with the connection: the writer
    finds the batch stored (same leaf hashes under its transaction ids) and does not append
    it again."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the event-loop path is PostgreSQL's")
    import psycopg

    sync = psycopg.AsyncPipeline.__aexit__  # sends the batch, COMMIT included, and reads back
    lost: list[int] = []

    async def answer_lost(self, *exc_info):  # type: ignore[no-untyped-def]
        result = await sync(self, *exc_info)
        if exc_info[0] is None and not lost:
            lost.append(1)
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return result

    monkeypatch.setattr(psycopg.AsyncPipeline, "__aexit__", answer_lost)
    writer = LogWriter(make_sessionmaker(engine))

    async def run() -> None:
        await asyncio.gather(writer.append(record(0)), writer.append(record(1)))
        await writer.append(record(2))

    asyncio.run(run())
    assert lost == [1]
    assert _logged(engine) == ["tx-0", "tx-1", "tx-2"]
    assert writer._pg is not None and writer._pg.opened == 2


@pytest.mark.parametrize("pooled", [False, True], ids=["direct", "pid-unknown"])
def test_a_batch_still_waiting_for_the_lock_when_the_link_fails_is_not_logged_twice(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, pooled: bool
) -> None:
    """The whole batch, COMMIT included, goes out at once. If the client's side of the link
    fails while the server process still waits for the append lock, that process must not
    commit the batch later, after the writer has appended it again: the writer ends it before
    it looks for the batch, and looks under the append lock. `pid-unknown`: the process cannot
    be ended (as behind a pooler, whose process ids are its own), so only the lock, queued
    behind the waiting process, keeps the batch from being logged twice."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the event-loop path is PostgreSQL's")
    import os
    import socket

    import psycopg

    from satu.exchange import log_pg, transparency

    if pooled:

        async def cannot_end(connection, pid):  # type: ignore[no-untyped-def]
            return None

        monkeypatch.setattr(log_pg, "_end_backend", cannot_end)

    holder = engine.connect()  # a slow writer holds the append lock for a second
    holder.begin()
    holder.exec_driver_sql(f"SELECT pg_advisory_xact_lock({transparency.LOCK_APPEND})")
    release = threading.Timer(1.0, holder.commit)
    release.start()
    sync = psycopg.AsyncPipeline.__aexit__
    cut: list[int] = []

    async def link_fails(self, *exc_info):  # type: ignore[no-untyped-def]
        if not cut:  # as after a keepalive timeout: our end of the socket goes
            cut.append(1)
            fd = self._conn.pgconn.socket
            asyncio.get_running_loop().call_later(
                0.3, lambda: socket.socket(fileno=os.dup(fd)).shutdown(socket.SHUT_RDWR)
            )
        return await sync(self, *exc_info)

    monkeypatch.setattr(psycopg.AsyncPipeline, "__aexit__", link_fails)
    writer = LogWriter(make_sessionmaker(engine))

    async def run() -> None:
        await asyncio.gather(writer.append(record(0)), writer.append(record(1)))

    try:
        asyncio.run(run())
    finally:
        release.join()
        holder.close()
    time.sleep(0.3)  # the ended process's batch, were it still to commit
    assert cut == [1]
    assert sorted(_logged(engine)) == ["tx-0", "tx-1"]


def test_a_batch_that_cannot_have_the_append_lock_in_time_fails_at_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer stuck holding the append lock: the batch waits LOCK_TIMEOUT_MS, then all
    its calls fail together (no record-by-record retry that would wait again per record) and
    nothing of it is stored; once the lock is free, appends work again."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the event-loop path is PostgreSQL's")
    from satu.exchange import log_pg, transparency

    monkeypatch.setattr(log_pg, "LOCK_TIMEOUT_MS", 300)
    holder = engine.connect()
    holder.begin()
    holder.exec_driver_sql(f"SELECT pg_advisory_xact_lock({transparency.LOCK_APPEND})")
    writer = LogWriter(make_sessionmaker(engine))
    assert writer._pg is not None
    tries: list[int] = []
    append = writer._pg.append

    async def counted(records):  # type: ignore[no-untyped-def]
        tries.append(len(records))
        await append(records)

    monkeypatch.setattr(writer._pg, "append", counted)

    async def stuck() -> list[object]:
        calls = (writer.append(record(i)) for i in range(5))
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        outcomes = asyncio.run(stuck())
    finally:
        holder.rollback()
        holder.close()
    assert all(isinstance(outcome, log_pg.LogUnavailable) for outcome in outcomes), outcomes
    assert tries == [5]  # one wait for the batch, no record-by-record retry
    assert _logged(engine) == []
    asyncio.run(writer.append(record(9)))
    assert _logged(engine) == ["tx-9"]
