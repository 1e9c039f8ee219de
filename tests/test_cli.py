"""The `satu` command line, run as real subprocesses against scratch databases.

Never the developer's ./var: each run gets a temporary SATU_VAR_DIR and, on PostgreSQL, a
scratch schema. The module's commands build on each other: `db upgrade`, `data load-regions`,
`demo --no-serve` (twice, to show it is idempotent), `demo` serving, `serve` and `/readyz`.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from satu.cli import app as cli_app
from satu.core.config import Settings
from satu.core.db import make_engine
from satu.core.migrations import downgrade, script_heads, upgrade
from satu.demo import DEMO_LINKS

BIN = Path(sys.executable).parent
SATU = BIN / "satu"
REGIONS_IN_FILE = 91_599  # wilayah.csv rows (see shared/data/README.md)
EXPECTED_COMMANDS = {"serve", "demo", "db", "db upgrade", "data", "data load-regions"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def satu_env(var_dir: Path, database_url: str, data_dir: Path) -> dict[str, str]:
    """The environment of a `satu` subprocess: its own var dir and database, quiet logs."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SATU_") or k in ("SATU_TEST_DATABASE_URL",)
    }
    env.pop("SATU_TEST_DATABASE_URL", None)
    env.update(
        SATU_VAR_DIR=str(var_dir),
        SATU_DATA_DIR=str(data_dir),
        SATU_LOG_LEVEL="WARNING",
        SATU_ENV="test",
        NO_COLOR="1",
    )
    if database_url.startswith("postgresql"):
        env["SATU_DATABASE_URL"] = database_url
    return env


def run_satu(
    *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `satu ARGS` to completion, capturing its output."""
    return subprocess.run(
        [str(SATU), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


# --- help everywhere ------------------------------------------------------------------------


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and sub-command path of a Typer command tree."""
    yield prefix
    for name, command in (getattr(group, "commands", None) or {}).items():
        yield from command_paths(command, (*prefix, name))


def test_help_subprocess() -> None:
    result = subprocess.run(
        [str(SATU), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, _output(result)
    for command in ("serve", "demo", "db", "data"):
        assert command in result.stdout
    module = subprocess.run(
        [sys.executable, "-m", "satu", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert module.returncode == 0
    assert "demo" in module.stdout


def test_every_command_and_subcommand_has_help() -> None:
    tree = typer.main.get_command(cli_app)
    paths = [" ".join(path) for path in command_paths(tree)]
    assert set(paths) >= EXPECTED_COMMANDS
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(cli_app, [*path.split(), "--help"])
        assert result.exit_code == 0, f"satu {path} --help: {result.output}"
        assert "Usage" in result.output, path
        assert "--help" in result.output, path


def test_unknown_command_fails_with_usage() -> None:
    result = subprocess.run(
        [str(SATU), "no-such-command"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "No such command" in _output(result)


# --- db upgrade, data load-regions, demo ----------------------------------------------------


@dataclass
class Workspace:
    """One scratch database and var dir that the module's commands share."""

    env: dict[str, str]
    database_url: str
    var_dir: Path

    def count(self, sql: str) -> int:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return int(connection.execute(text(sql)).scalar_one())
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def workspace(
    tmp_path_factory: pytest.TempPathFactory, module_scratch_database_url: str, settings: Settings
) -> Workspace:
    var_dir = tmp_path_factory.mktemp("var")
    url = module_scratch_database_url
    if url.startswith("sqlite"):
        # The CLI's own default: SQLite inside SATU_VAR_DIR.
        url = f"sqlite:///{var_dir / 'satu.sqlite3'}"
    return Workspace(satu_env(var_dir, url, settings.data_dir), url, var_dir)


@pytest.fixture(scope="module")
def upgraded(workspace: Workspace) -> subprocess.CompletedProcess[str]:
    return run_satu("db", "upgrade", env=workspace.env)


@pytest.fixture(scope="module")
def regions_loaded(
    workspace: Workspace, upgraded: subprocess.CompletedProcess[str]
) -> subprocess.CompletedProcess[str]:
    return run_satu("data", "load-regions", env=workspace.env)


@pytest.fixture(scope="module")
def demo_runs(
    workspace: Workspace, regions_loaded: subprocess.CompletedProcess[str]
) -> list[subprocess.CompletedProcess[str]]:
    return [run_satu("demo", "--no-serve", env=workspace.env) for _ in range(2)]


def test_db_upgrade(workspace: Workspace, upgraded: subprocess.CompletedProcess[str]) -> None:
    assert upgraded.returncode == 0, _output(upgraded)
    assert "up to date" in upgraded.stdout
    assert "password" not in upgraded.stdout.lower()
    assert workspace.count("SELECT count(*) FROM alembic_version") == 1
    if workspace.database_url.startswith("sqlite"):
        assert (workspace.var_dir / "satu.sqlite3").is_file()
    again = run_satu("db", "upgrade", env=workspace.env)
    assert again.returncode == 0, _output(again)


def test_data_load_regions(
    workspace: Workspace, regions_loaded: subprocess.CompletedProcess[str]
) -> None:
    assert regions_loaded.returncode == 0, _output(regions_loaded)
    assert f"Regions: {REGIONS_IN_FILE} inserted" in regions_loaded.stdout
    assert workspace.count("SELECT count(*) FROM satudata_region") == REGIONS_IN_FILE


def test_data_load_regions_rejects_a_missing_folder(
    workspace: Workspace, tmp_path: Path, upgraded: subprocess.CompletedProcess[str]
) -> None:
    result = run_satu("data", "load-regions", "--directory", str(tmp_path), env=workspace.env)
    assert result.returncode == 1
    assert "Traceback" not in _output(result)


def test_demo_no_serve_prepares_everything(
    workspace: Workspace, demo_runs: list[subprocess.CompletedProcess[str]]
) -> None:
    first, second = demo_runs
    assert first.returncode == 0, _output(first)
    out = first.stdout
    assert "Migrating the database" in out
    # Regions were loaded by `data load-regions` already: the demo finds them unchanged.
    assert "Loading regions (Kode Wilayah 2025) (0 new, 0 updated" in out
    assert "38 provinces" in out
    assert "514 regencies/cities" in out
    for path, _ in DEMO_LINKS:
        assert f"http://127.0.0.1:8000{path}" in out
    assert "Traceback" not in _output(first)
    # Kementerian Sosial and Ditjen Dukcapil are there.
    assert workspace.count("SELECT count(*) FROM satudata_agency WHERE id = 'kemensos'") == 1
    assert (
        workspace.count("SELECT count(*) FROM satudata_agency WHERE id = 'kemendagri.dukcapil'")
        == 1
    )
    # Running it again changes nothing.
    assert second.returncode == 0, _output(second)
    assert "Loading agencies (0 new, 0 updated" in second.stdout
    assert "Loading agencies (0 new" not in first.stdout
    assert workspace.count("SELECT count(*) FROM satudata_region") == REGIONS_IN_FILE
    # Complaints are seeded once (the second run adds none) and the classifier is trained.
    assert "Seeding demo content: complaints (reports added: 3000" in out
    assert "Seeding demo content: complaints (reports added: 0" in second.stdout
    assert workspace.count("SELECT count(*) FROM complaints_report") == 3000


def test_demo_without_reference_data_fails_cleanly(
    tmp_path: Path, scratch_database_url: str, settings: Settings
) -> None:
    env = satu_env(tmp_path, scratch_database_url, tmp_path / "nowhere")
    result = run_satu("demo", "--no-serve", env=env)
    assert result.returncode == 1
    assert "Reference data not found" in result.stdout
    assert "SATU_DATA_DIR" in result.stdout
    assert "Traceback" not in _output(result)


def test_demo_rejects_a_bad_port(workspace: Workspace) -> None:
    result = run_satu("demo", "--no-serve", "--port", "70000", env=workspace.env)
    assert result.returncode == 2
    assert "Traceback" not in _output(result)


# --- serving --------------------------------------------------------------------------------


class Server:
    """A `satu` subprocess that serves HTTP on a free loopback port."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(SATU), *args, "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.stop()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"server did not come up:\n{self.stop()}")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.stdout.read() if self.process.stdout else ""


def test_demo_serves_what_it_prints(
    workspace: Workspace, demo_runs: list[subprocess.CompletedProcess[str]]
) -> None:
    server = Server(["demo"], workspace.env)
    try:
        server.wait_until_up()
        statuses = {
            path: httpx.get(f"{server.url}{path}", timeout=10).status_code for path, _ in DEMO_LINKS
        }
        kemensos = httpx.get(f"{server.url}/api/v1/agencies/kemensos", timeout=10).json()
    finally:
        output = server.stop()
    assert statuses == {path: 200 for path, _ in DEMO_LINKS}, output
    assert "Kementerian Sosial" in str(kemensos)
    assert f"http://127.0.0.1:{server.port}/api/docs" in output
    assert server.process.returncode == 0, output


def test_serve_health_and_readiness_follow_migrations(
    workspace: Workspace, demo_runs: list[subprocess.CompletedProcess[str]], settings: Settings
) -> None:
    server = Server(["serve"], workspace.env)
    engine = make_engine(settings, workspace.database_url)
    try:
        server.wait_until_up()
        ready = httpx.get(f"{server.url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}

        # Schema behind the code (as during a deploy before `satu db upgrade`): not ready.
        downgrade(engine, "-1")
        behind = httpx.get(f"{server.url}/readyz", timeout=10)
        assert behind.status_code == 503, behind.text
        assert behind.json()["checks"]["migrations"] == "pending"
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200

        upgrade(engine)
        again = httpx.get(f"{server.url}/readyz", timeout=10)
        assert again.status_code == 200, again.text
        with engine.connect() as connection:
            heads = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
            assert tuple(heads) == script_heads()
    finally:
        engine.dispose()
        server.stop()


# --- dev.py, the README's entry point ---------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


def test_dev_py_help_names_the_two_commands() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "dev.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, _output(result)
    assert "demo" in result.stdout
    assert "test" in result.stdout


def test_dev_py_rejects_an_unknown_command() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "dev.py"), "deploy-to-production"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_dev_py_reports_an_unreachable_postgresql() -> None:
    spec = importlib.util.spec_from_file_location("satu_dev_entry", REPO / "dev.py")
    assert spec is not None and spec.loader is not None
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    if not dev.bin_path("python").exists():
        pytest.skip("dev.py's .venv is not the one running the tests")
    port = _free_port()  # nothing listens there
    state = dev._postgres_state(f"postgresql+psycopg://postgres@127.0.0.1:{port}/nothing")
    assert state not in ("ok", "created")
    assert state
