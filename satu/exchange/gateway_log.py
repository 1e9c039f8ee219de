"""Group commit of the gateway's transparency log appends.

Each call awaits the commit of its own log entry before it answers; calls that end while a
commit is under way are appended together in the next transaction (one commit, one PostgreSQL
advisory lock or SQLite write lock for the lot). The writes run in a thread of the writer's
own on its own kept connection; on PostgreSQL they run on the event loop instead, over an
asynchronous psycopg connection (`log_pg.py`: no thread to contend with for the GIL). Under
load this turns one write transaction per call into one per batch; alone, a call pays what it
paid before.
A batch that fails is retried one record per transaction, so one bad record cannot refuse
the others; a record that still fails raises to its own call. A batch that could not have the
append lock in time (PostgreSQL, `log_pg.LOCK_TIMEOUT_MS`) fails all its calls at once. A
caller that goes away (the consumer disconnected) does not cancel its append: the entry is
logged, the answer is lost.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from satu.core.db import transaction
from satu.exchange import log_pg, transparency
from satu.exchange.schemas import LogRecordIn

log = logging.getLogger(__name__)

MAX_BATCH = 200


class LogWriter:
    """Appends records for one event loop, batching those that arrive during a commit."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        bind = factory.kw.get("bind")
        self._engine = bind if isinstance(bind, Engine) else None  # else a test's connection
        self._pending: list[tuple[LogRecordIn, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        # One write at a time per event loop: its own thread, not a hop through the shared pool,
        # and its own connection, kept (no pool check-out and liveness ping per batch).
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="satu-log")
        self._held: list[Connection] = []
        weakref.finalize(self, _shut, self._thread, self._held)  # both go with us
        # PostgreSQL (psycopg): on the event loop itself, no thread (see log_pg.py).
        self._pg = (
            log_pg.PgAppender(self._engine) if self._engine and log_pg.takes(self._engine) else None
        )

    async def _run(self, records: list[LogRecordIn]) -> None:
        if self._pg is not None:
            await self._pg.append(records)
            return
        await asyncio.get_running_loop().run_in_executor(self._thread, self._write, records)

    async def append(self, record: LogRecordIn) -> None:
        """Append `record` and return once it is committed (raises if it could not be)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())
        await asyncio.shield(future)

    async def _drain(self) -> None:
        try:
            await self._drain_pending()
        finally:
            self._task = None  # a finished task would keep its event loop (and us) alive

    async def _drain_pending(self) -> None:
        await asyncio.sleep(0)  # let the calls already under way this loop turn join the batch
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                await self._run([record for record, _ in batch])
            except log_pg.LogUnavailable as exc:
                log.warning("log batch refused: %s", exc)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except Exception:
                log.warning("log batch failed; appending its records one by one", exc_info=True)
                await self._one_by_one(batch)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _one_by_one(self, batch: list[tuple[LogRecordIn, asyncio.Future[None]]]) -> None:
        for record, future in batch:
            try:
                await self._run([record])
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(None)

    def _write(self, records: list[LogRecordIn]) -> None:
        """One transaction for the batch on the writer's connection (in its thread). After a
        failure the connection is closed: the next batch opens a new one."""
        if self._engine is None:  # sessions bound to one connection (tests): their transaction
            with transaction(self._factory) as session:
                transparency.append_many(session=session, records=records)
            return
        if not self._held:
            self._held.append(self._engine.connect())
        connection = self._held[0]
        try:
            with connection.begin():
                transparency.append_rows(connection=connection, records=records)
        except BaseException:
            self._held.clear()
            connection.close()
            raise


def _shut(thread: ThreadPoolExecutor, held: list[Connection]) -> None:
    thread.shutdown(wait=False)
    for connection in held:
        connection.close()
    held.clear()
