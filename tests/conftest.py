"""Test harness: a real database (SQLite by default, PostgreSQL with SATU_TEST_DATABASE_URL),
migrated once, reference data loaded once, and every test rolled back.

- `db`: a Session inside a transaction that is rolled back after the test; `commit()` only
  releases a savepoint.
- `client`: a TestClient whose requests join that same transaction.
- `live_server`: a real uvicorn server on a free loopback port (for browser and HTTP tests);
  its writes are committed, so such tests must use data of their own.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Never touch the developer's ./var database: point everything at a throwaway folder first.
_TMP = Path(tempfile.mkdtemp(prefix="satu-test-"))
os.environ["SATU_VAR_DIR"] = str(_TMP)
os.environ.setdefault("SATU_ENV", "test")
os.environ.setdefault("SATU_LOG_LEVEL", "WARNING")

import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Connection, Engine  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from satu.app import create_app  # noqa: E402
from satu.core.config import Settings  # noqa: E402
from satu.core.db import make_engine  # noqa: E402
from satu.core.migrations import upgrade  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def database_url_for_tests() -> str:
    """The database the suite runs on."""
    return os.environ.get("SATU_TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'test.sqlite3'}"


def _reset_database(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        else:
            rows = connection.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
            connection.execute(text("PRAGMA foreign_keys=OFF"))
            for (name,) in rows.fetchall():
                connection.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    # The pool would hand that connection out again with foreign keys still off (no ON DELETE
    # CASCADE: a committed fixture's clean-up then left orphans behind for later tests).
    engine.dispose()


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings for the test run."""
    data_dir = Path(os.environ.get("SATU_DATA_DIR", SHARED_DATA))
    return Settings(
        env="test",
        database_url=database_url_for_tests(),
        var_dir=_TMP,
        data_dir=data_dir,
        log_json=True,
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    """A freshly migrated database for the whole run."""
    eng = make_engine(settings)
    _reset_database(eng)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def reference_data(engine: Engine, settings: Settings) -> None:
    """Official regions, retired district codes and agencies, loaded (committed) once."""
    from satu.core.db import make_sessionmaker, transaction
    from satu.satudata import service as satudata

    with transaction(make_sessionmaker(engine)) as session:
        satudata.load_regions(session=session, directory=settings.wilayah_dir)
    with transaction(make_sessionmaker(engine)) as session:
        satudata.load_agencies(session=session)


@pytest.fixture
def connection(engine: Engine, reference_data: None) -> Iterator[Connection]:
    """A connection whose outer transaction is rolled back after the test."""
    conn = engine.connect()
    outer = conn.begin()
    if engine.dialect.name == "sqlite":
        # pysqlite opens its transaction lazily, at the first write: a savepoint released
        # before that would commit for real and leak into later tests. Open it now.
        conn.exec_driver_sql("BEGIN")
    try:
        yield conn
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions joined to the test's transaction (commit releases a savepoint)."""
    return sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for the test, rolled back afterwards."""
    session = session_factory()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def app(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]) -> FastAPI:
    """The application, its requests running inside the test's transaction."""
    application = create_app(settings, engine=engine)
    application.state.sessionmaker = session_factory
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An in-process HTTP client; server errors come back as responses, not exceptions."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A uvicorn server in a background thread."""

    def __init__(self, application: FastAPI) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application, host="127.0.0.1", port=self.port, log_config=None, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(settings: Settings, engine: Engine, reference_data: None) -> Iterator[LiveServer]:
    """A real HTTP server on loopback, sharing the test database (writes are committed)."""
    server = LiveServer(create_app(settings, engine=engine))
    server.start()
    yield server
    server.stop()


@contextmanager
def scratch_database(folder: Path) -> Iterator[str]:
    """An empty database of the suite's kind, apart from the shared one, dropped afterwards.

    SQLite: a new file in `folder`. PostgreSQL: a new schema in the test database, selected
    through the connection's search_path, so migrations and subprocesses use it like a database.
    """
    base = database_url_for_tests()
    if not base.startswith("postgresql"):
        yield f"sqlite:///{folder / 'scratch.sqlite3'}"
        return
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    schema = f"scratch_{os.getpid()}_{time.monotonic_ns()}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def scratch_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty scratch database for one test (see `scratch_database`)."""
    with scratch_database(tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def module_scratch_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty scratch database shared by the tests of one module."""
    with scratch_database(tmp_path_factory.mktemp("scratch")) as url:
        yield url
