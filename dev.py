#!/usr/bin/env python3
"""Developer entry point that needs nothing but Python 3.11+.

    python3 dev.py demo    set up .venv, then migrate, load reference data and serve the demo
    python3 dev.py test    set up .venv, then lint and run the whole suite (SQLite + PostgreSQL)

Setting up is idempotent: the virtual environment is created once and the package (with its
`dev` extras) reinstalled only when pyproject.toml changes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".satu-installed"
BROWSER_DIR = ROOT / "tests" / "browser"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MIN_PYTHON = (3, 11)


def say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def bin_path(name: str) -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


def run(command: list[str | Path], *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> int:
    """Run a command (from the repository root unless told otherwise); return its exit code."""
    return subprocess.run([str(part) for part in command], cwd=cwd, env=env, check=False).returncode


def _venv_works() -> bool:
    python = bin_path("python")
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version_info >= (3, 11))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0 and probe.stdout.strip() == "True"


def _install_fingerprint() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def setup() -> None:
    """Create .venv and install Satu with its dev extras, unless already done."""
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"Satu needs Python {'.'.join(map(str, MIN_PYTHON))}+; this is {sys.version}")
    if not _venv_works():
        if VENV.exists():
            say(f"recreating the broken virtual environment in {VENV}")
            shutil.rmtree(VENV)
        say(f"creating a virtual environment in {VENV}")
        try:
            venv.create(VENV, with_pip=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            shutil.rmtree(VENV, ignore_errors=True)
            sys.exit(
                f"[dev] cannot create a virtual environment ({exc}); on Debian or Ubuntu "
                "install the python3-venv package"
            )
    fingerprint = _install_fingerprint()
    if STAMP.exists() and STAMP.read_text().strip() == fingerprint and bin_path("satu").exists():
        return
    say("installing Satu and its development tools (first run, or pyproject.toml changed)")
    python = bin_path("python")
    quiet = [] if os.environ.get("SATU_DEV_VERBOSE") else ["-q"]
    pip = [python, "-m", "pip", "install", *quiet, "--disable-pip-version-check"]
    if run([*pip, "-e", f"{ROOT}[dev]"]) != 0:
        sys.exit("[dev] installing the package failed (see pip's output above)")
    STAMP.write_text(fingerprint + "\n")


def setup_browser_tests() -> None:
    """Install the browser tests' node packages when npm is there and they are missing or stale."""
    lock = BROWSER_DIR / "package-lock.json"
    marker = BROWSER_DIR / "node_modules" / ".package-lock.json"
    if not lock.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        say("npm not found: browser tests will be skipped (install nodejs and npm to run them)")
        return
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    say("installing the browser tests' node packages (npm ci)")
    env = {**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}  # Debian's chromium is used
    code = run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=BROWSER_DIR, env=env)
    if code != 0:
        sys.exit("[dev] npm ci failed in tests/browser")


def _postgres_state(url: str) -> str:
    """'ok' if the database answers, 'created' if we had to create it, else why not."""
    script = r"""
import sys
import psycopg
from sqlalchemy.engine import make_url

url = make_url(sys.argv[1])
params = dict(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username,
              password=url.password, connect_timeout=3)
try:
    psycopg.connect(dbname=url.database, **params).close()
    print("ok")
except psycopg.OperationalError as exc:
    if "does not exist" not in str(exc):
        print(str(exc).strip().splitlines()[0] if str(exc).strip() else "unreachable")
        sys.exit(0)
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        conn.execute(f'CREATE DATABASE "{url.database}"')
    print("created")
"""
    result = subprocess.run(
        [str(bin_path("python")), "-c", script, url],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if result.returncode != 0:
        return (result.stderr.strip().splitlines() or ["unreachable"])[-1]
    return result.stdout.strip()


def command_test(pytest_args: list[str]) -> int:
    """Lint, check import contracts, run the suite on SQLite and on PostgreSQL."""
    setup()
    setup_browser_tests()
    # PostgreSQL is required in CI, or when the developer named a database explicitly.
    pg_required = bool(os.environ.get("CI")) or "SATU_TEST_DATABASE_URL" in os.environ
    env = {k: v for k, v in os.environ.items() if k not in ("SATU_DATABASE_URL", "SATU_VAR_DIR")}
    env.pop("SATU_TEST_DATABASE_URL", None)
    pg_url = os.environ.get("SATU_TEST_DATABASE_URL") or DEFAULT_PG_URL
    failures: list[str] = []

    def step(name: str, command: list[str | Path], extra_env: dict[str, str] | None = None) -> None:
        say(name)
        if run(command, env={**env, **(extra_env or {})}) != 0:
            failures.append(name)

    step("ruff check", [bin_path("ruff"), "check", "."])
    step("ruff format --check", [bin_path("ruff"), "format", "--check", "."])
    step("import contracts (lint-imports)", [bin_path("lint-imports"), "--no-cache"])
    step("pytest on SQLite", [bin_path("python"), "-m", "pytest", *pytest_args])

    state = _postgres_state(pg_url)
    if state in ("ok", "created"):
        step(
            f"pytest on PostgreSQL ({pg_url.split('@')[-1]})",
            [bin_path("python"), "-m", "pytest", *pytest_args],
            {"SATU_TEST_DATABASE_URL": pg_url},
        )
    elif pg_required:
        say(f"PostgreSQL at {pg_url.split('@')[-1]} is required but unusable: {state}")
        failures.append("PostgreSQL")
    else:
        say(f"PostgreSQL not reachable ({state}); ran SQLite only. Set SATU_TEST_DATABASE_URL.")

    if failures:
        say("FAILED: " + ", ".join(failures))
        return 1
    return 0


def command_demo(demo_args: list[str]) -> int:
    """Set up, then run `satu demo` (migrate, load data, serve on 127.0.0.1:8000)."""
    setup()
    try:
        return run([bin_path("satu"), "demo", *demo_args])
    except KeyboardInterrupt:
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python3 dev.py",
        description="Set up and run Satu with nothing but Python 3.11+.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo",
        help="set up, then run the demo (extra options go to `satu demo`, e.g. --port 8080)",
        add_help=False,
    )
    commands.add_parser(
        "test",
        help="set up, then lint and run the whole suite (extra options go to pytest)",
        add_help=False,
    )
    commands.add_parser("setup", help="only create .venv and install Satu with dev tools")
    args, rest = parser.parse_known_args()
    if args.command == "demo":
        return command_demo(rest)
    if args.command == "test":
        return command_test(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    setup()
    say(f"ready: {bin_path('satu')} --help")
    return 0


if __name__ == "__main__":
    sys.exit(main())
