"""Fixtures for the core kernel tests: probe apps, log capture, live servers, scratch databases."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker

from satu.app import create_app
from satu.core.config import Settings
from satu.core.db import make_engine
from tests.core.support import SMALL_LIMIT, LogCapture, ProbeServer, with_probes


@pytest.fixture
def probe_app(settings: Settings, engine: Engine) -> Iterator[FastAPI]:
    """A fresh app plus the probe routes, its requests inside a transaction rolled back after.

    Built here rather than from the `app` fixture so that kernel tests need no reference data.
    """
    application = with_probes(create_app(settings, engine=engine))
    connection = engine.connect()
    outer = connection.begin()
    application.state.sessionmaker = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    try:
        yield application
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture
def probe_client(probe_app: FastAPI) -> Iterator[TestClient]:
    """An in-process client of the probe app; server errors come back as responses."""
    with TestClient(probe_app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def json_logs() -> Iterator[LogCapture]:
    """Capture the `satu.*` loggers at INFO and above through `JsonFormatter`.

    Attached to the `satu` logger, not the root, because `create_app` replaces root handlers.
    """
    capture = LogCapture()
    logger = logging.getLogger("satu")
    previous = logger.level
    logger.addHandler(capture.handler)
    logger.setLevel(logging.INFO)
    try:
        yield capture
    finally:
        logger.removeHandler(capture.handler)
        logger.setLevel(previous)


@pytest.fixture(scope="module")
def small_limit_server(settings: Settings, engine: Engine) -> Iterator[ProbeServer]:
    """A real HTTP server whose JSON body limit is 2 KiB, with the probe routes."""
    limited = settings.model_copy(update={"max_json_body_bytes": SMALL_LIMIT})
    server = ProbeServer(with_probes(create_app(limited, engine=engine)))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def scratch_engine(settings: Settings, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of the suite's kind, never the session database.

    SQLite: a temporary file. PostgreSQL: a throwaway schema on the test database, selected
    through `search_path`, dropped afterwards.
    """
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        eng = make_engine(settings, f"sqlite:///{tmp_path / 'scratch.sqlite3'}")
        try:
            yield eng
        finally:
            eng.dispose()
        return
    schema = f"scratch_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(settings)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
    eng = make_engine(settings, scoped.render_as_string(hide_password=False))
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
