"""The gateway log writer's PostgreSQL path: batches appended on the event loop itself, over
one psycopg asynchronous connection per loop, instead of in a thread.

Why: a thread that writes while the event loop works contends with it for the GIL at every
round trip, and the hand-overs cost more CPU than the appends (measured in process on
PostgreSQL: 1.04-1.07 against 0.87-0.90 ms per call). On the loop, a batch waits for the
database like any other I/O and the calls keep running meanwhile.

A batch is one transaction sent as one pipeline (one round trip): the append advisory lock
(the one `transparency.append_rows` takes), then one INSERT of the whole batch that numbers
the rows after the largest stored index, which it reads itself, then COMMIT. The rows are
transparency's own (`log_rows`, with the columns' bind conversions), so the stored bytes are
the same as on the other paths.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from typing import Any

import psycopg
from sqlalchemy import Engine

from satu.exchange import transparency
from satu.exchange.models import LogEntry
from satu.exchange.schemas import LogRecordIn

# Connecting is bounded, and a server that goes silent is noticed (TCP keepalives) rather
# than waited for forever; the URL's own settings win.
KEEPALIVES = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s)"
_ARRAY_COLUMNS = tuple(name for name in transparency.ROW_COLUMNS if name != "idx")


def _append_sql(dialect: Any) -> str:
    """One INSERT for a whole batch: the rows come as one array per column, and each gets the
    next index after the largest stored one, read by the same statement. It runs after the
    append lock is held, and (READ COMMITTED) a statement's snapshot is taken when it starts,
    so the largest index it reads is the last committed append's."""
    table = LogEntry.__table__
    names = ", ".join(_ARRAY_COLUMNS)
    arrays = ", ".join(
        # VARCHAR(n) -> VARCHAR[]: an explicit cast would cut a long value; the insert refuses it.
        "%b::" + re.sub(r"\(.*\)", "", table.c[name].type.compile(dialect=dialect)) + "[]"
        for name in _ARRAY_COLUMNS
    )
    # Names and types come from the table's own metadata, no input.
    return (
        f"INSERT INTO {table.name} (idx, {names})"  # noqa: S608
        f" SELECT newest.idx + v.ord, {', '.join('v.' + name for name in _ARRAY_COLUMNS)}"
        f" FROM (SELECT coalesce(max(idx), -1) AS idx FROM {table.name}) AS newest,"
        f" unnest({arrays}) WITH ORDINALITY AS v({names}, ord)"
    )


# A batch waits at most this long for the append lock (another writer stuck holding it): then
# its calls fail at once, "log unavailable", rather than hang. A `lock_timeout` in the
# database URL's own `options` wins.
LOCK_TIMEOUT_MS = 5000


class LogUnavailable(Exception):
    """The log cannot take a batch now (the append lock was not had in time): no record of it
    is stored, and retrying its records one by one would only wait again."""


def takes(engine: Engine) -> bool:
    """Whether this path serves `engine` (PostgreSQL through psycopg 3)."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


class PgAppender:
    """Appends batches to the log on the running loop, on a connection it keeps."""

    def __init__(self, engine: Engine) -> None:
        # The engine's own connection parameters (hosts, options, password, adapters), as
        # keywords: never a URL string, which libpq would decode differently (and whose
        # parse errors would show the password).
        _, self._params = engine.dialect.create_connect_args(engine.url)
        self._writer = transparency.row_writer(engine.dialect)
        self._sql = _append_sql(engine.dialect)
        self._held: list[psycopg.AsyncConnection] = []  # the kept connection, if any
        self.opened = 0  # connections opened so far
        weakref.finalize(self, _close, self._held)  # it goes with us (and our event loop)

    async def append(self, records: list[LogRecordIn]) -> None:
        """Append `records` in one transaction and commit, in one round trip. After a failure
        the connection is closed: the next batch opens a new one."""
        rows = transparency.log_rows(records)
        if not rows:
            return
        columns = self._columns(rows)
        connection = await self._connect()
        backend = connection.info.backend_pid
        try:
            # One pipeline, one Sync: BEGIN, the lock, the numbered insert and COMMIT go out
            # together and their answers come back together (five round trips before). An
            # error skips the rest up to the Sync, COMMIT included: nothing is stored.
            async with connection.pipeline():
                await connection.execute("BEGIN ISOLATION LEVEL READ COMMITTED")  # see _append_sql
                await connection.execute(_LOCK_SQL, (transparency.LOCK_APPEND,))
                await connection.execute(self._sql, columns)
                await connection.execute("COMMIT")
        except BaseException as exc:
            self._held.clear()
            await _close_now(connection)
            if isinstance(exc, psycopg.errors.LockNotAvailable):  # failed at the lock: none stored
                waited = f"the append lock was not had within {LOCK_TIMEOUT_MS} ms"
                raise LogUnavailable(waited) from exc
            # The connection broke: the COMMIT may have gone through all the same.
            if isinstance(exc, psycopg.OperationalError) and await self._stored(rows, backend):
                return
            raise

    def _columns(self, rows: list[dict[str, Any]]) -> list[list[Any]]:
        """The batch as one list per column (the insert's arrays), with the columns' own
        bind conversions (e.g. a naive datetime is refused)."""
        convert = self._writer.convert
        return [
            [convert[name](row[name]) if convert[name] else row[name] for row in rows]
            for name in _ARRAY_COLUMNS
        ]

    async def _stored(self, rows: list[dict[str, Any]], backend: int) -> bool:
        """Whether `rows` are in the log (their leaf hashes under their transaction ids), asked
        on a new connection: a batch whose COMMIT was answered by a broken connection is
        either wholly stored or not at all, and retrying a stored one would log it twice.

        The server process of the broken connection (`backend`) is ended first, and gone
        before the log is read: the whole batch, COMMIT included, was sent at once, and a
        server process still waiting for the append lock would otherwise commit it later,
        after the caller has appended it again. The log is then read under the append lock
        too, queued behind any such process: that covers a `backend` that is not the real
        server process (a pooler such as PgBouncer hands out its own process ids), which
        cannot be ended, but commits or gives up before the lock comes to us."""
        try:
            connection = await self._connect()
            await _end_backend(connection, backend)
            async with connection.transaction():
                await connection.execute(_LOCK_SQL, (transparency.LOCK_APPEND,))
                cursor = await connection.execute(
                    "SELECT leaf_hash FROM exchange_log_entry"
                    " WHERE transaction_id = ANY(%s) AND leaf_hash = ANY(%s)",
                    (
                        sorted({row["transaction_id"] for row in rows}),
                        [row["leaf_hash"] for row in rows],
                    ),
                )
                found = {bytes(leaf) for (leaf,) in await cursor.fetchall()}
        except psycopg.Error:
            return False  # unknown: the caller retries (a duplicate is better than a loss)
        return all(row["leaf_hash"] in found for row in rows)

    async def _connect(self) -> psycopg.AsyncConnection:
        if self._held and not self._held[0].closed:
            return self._held[0]
        options = f"-c lock_timeout={LOCK_TIMEOUT_MS} {self._params.get('options', '')}"
        connection = await psycopg.AsyncConnection.connect(
            **{**KEEPALIVES, **self._params, "options": options.strip()},
            autocommit=True,  # BEGIN and COMMIT are ours
        )
        self._held[:] = [connection]
        self.opened += 1
        return connection


BACKEND_GONE_SECONDS = 10.0  # how long `_stored` waits for the broken connection's process


async def _end_backend(connection: psycopg.AsyncConnection, pid: int) -> None:
    """End server process `pid` (ours: same role) and wait until it is gone; psycopg.Error
    (a timeout among them) when it cannot be made sure."""
    await connection.execute("SELECT pg_terminate_backend(%s)", (pid,))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BACKEND_GONE_SECONDS
    while await _alive(connection, pid):
        if loop.time() > deadline:
            raise psycopg.errors.QueryCanceled(f"server process {pid} did not end")
        await asyncio.sleep(0.01)


async def _alive(connection: psycopg.AsyncConnection, pid: int) -> bool:
    cursor = await connection.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
    return await cursor.fetchone() is not None


async def _close_now(connection: psycopg.AsyncConnection) -> None:
    """Close a connection after a failure; a broken one may not answer, so do not wait long."""
    try:
        await asyncio.wait_for(connection.close(), timeout=2)
    except asyncio.CancelledError:
        connection.pgconn.finish()
        raise
    except Exception:  # already gone: drop it
        connection.pgconn.finish()


def _close(held: list[psycopg.AsyncConnection]) -> None:
    """Close the kept connection when its appender goes (with its event loop)."""
    for connection in held:
        if not connection.closed:
            connection.pgconn.finish()
    held.clear()
