"""Operations endpoints: liveness, readiness (DB and migrations), Prometheus metrics."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from satu.app import create_app
from satu.core.config import Settings
from satu.core.db import make_engine
from satu.core.migrations import alembic_config, upgrade
from tests.core.support import with_probes


def test_healthz(probe_client: TestClient) -> None:
    response = probe_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"].startswith("application/json")


def test_readyz_when_migrated(probe_client: TestClient) -> None:
    response = probe_client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}


def client_for(settings: Settings, engine: Engine) -> TestClient:
    return TestClient(
        with_probes(create_app(settings, engine=engine)), raise_server_exceptions=False
    )


def _older_revision() -> str | None:
    """A revision before head, if the history has more than one."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revisions = list(script.walk_revisions())
    return revisions[-1].revision if len(revisions) > 1 else None


def test_readyz_503_when_migrations_are_pending(settings: Settings, scratch_engine: Engine) -> None:
    older = _older_revision()
    if older is not None:
        upgrade(scratch_engine, older)
    with client_for(settings, scratch_engine) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "migrations": "pending"},
    }


def test_readyz_200_once_the_scratch_database_is_upgraded(
    settings: Settings, scratch_engine: Engine
) -> None:
    upgrade(scratch_engine)
    with client_for(settings, scratch_engine) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unreachable_postgres(settings: Settings) -> Iterator[Engine]:
    url = f"postgresql+psycopg://satu@127.0.0.1:{_closed_port()}/satu?connect_timeout=2"
    eng = make_engine(settings, url)
    yield eng
    eng.dispose()


def test_readyz_503_when_postgres_is_unreachable(
    settings: Settings, unreachable_postgres: Engine
) -> None:
    with client_for(settings, unreachable_postgres) as client:
        started = time.monotonic()
        response = client.get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "unreachable", "migrations": "unknown"},
    }
    assert "127.0.0.1" not in response.text
    # Liveness does not depend on the database.
    with client_for(settings, unreachable_postgres) as client:
        assert client.get("/healthz").status_code == 200


def test_readyz_503_when_sqlite_file_cannot_be_opened(settings: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "db.sqlite3"
    eng = make_engine(settings, f"sqlite:///{missing}")
    try:
        with client_for(settings, eng) as client:
            response = client.get("/readyz")
    finally:
        eng.dispose()
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unreachable"
    assert not missing.parent.exists()


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one Prometheus sample, or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line[: line.rindex("}") + 1]))
        if all(found.get(k) == v for k, v in labels.items()) and len(found) == len(labels):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_are_labelled_by_route_template(probe_client: TestClient) -> None:
    for item in (1, 2, 3, 99999):
        assert probe_client.get(f"/api/v1/_probe/items/{item}").status_code == 200
    probe_client.get("/api/v1/_probe/items/404")
    response = probe_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    route = "/api/v1/_probe/items/{item_id}"
    assert _sample(text, "satu_http_requests_total", method="GET", route=route, status="200") == 4
    assert _sample(text, "satu_http_requests_total", method="GET", route=route, status="404") == 1
    assert _sample(text, "satu_http_request_duration_seconds_count", method="GET", route=route) == 5
    assert (
        _sample(
            text, "satu_http_request_duration_seconds_bucket", method="GET", route=route, le="+Inf"
        )
        == 5
    )
    assert "/api/v1/_probe/items/99999" not in text
    assert "# TYPE satu_http_request_duration_seconds histogram" in text


def test_unmatched_paths_share_one_label(probe_client: TestClient) -> None:
    for n in range(25):
        probe_client.get(f"/random/path/{n}")
    text = probe_client.get("/metrics").text
    assert "/random/path" not in text
    assert (
        _sample(text, "satu_http_requests_total", method="GET", route="<unmatched>", status="404")
        == 25
    )


def test_odd_methods_do_not_create_labels(probe_client: TestClient) -> None:
    for method in ("BREW", "PROPFIND", "X" * 40):
        probe_client.request(method, "/healthz")
    text = probe_client.get("/metrics").text
    assert "BREW" not in text
    assert "PROPFIND" not in text
    assert (
        _sample(text, "satu_http_requests_total", method="OTHER", route="/healthz", status="405")
        == 3
    )


def test_errors_and_refusals_are_counted(probe_client: TestClient) -> None:
    probe_client.get("/api/v1/_probe/boom")
    probe_client.post(
        "/api/v1/_probe/echo",
        content=b"x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
    )
    text = probe_client.get("/metrics").text
    assert (
        _sample(
            text,
            "satu_http_requests_total",
            method="GET",
            route="/api/v1/_probe/boom",
            status="500",
        )
        == 1
    )
    assert (
        _sample(
            text,
            "satu_http_requests_total",
            method="POST",
            route="/api/v1/_probe/echo",
            status="413",
        )
        == 1
        or _sample(
            text, "satu_http_requests_total", method="POST", route="<unmatched>", status="413"
        )
        == 1
    )


def test_each_app_has_its_own_registry(probe_app: FastAPI, settings: Settings) -> None:
    other = create_app(settings, engine=probe_app.state.engine)
    assert other.state.metrics.registry is not probe_app.state.metrics.registry
