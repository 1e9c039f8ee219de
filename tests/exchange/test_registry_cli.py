"""`satu exchange subsystem|service|right|mandate|key` against the test database (committed)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from satu.cli import app
from satu.core.config import Settings, get_settings
from satu.core.db import make_sessionmaker, transaction
from satu.exchange.models import MemberKey, Subsystem
from tests.exchange.conftest import POPULATION_OPENAPI

runner = CliRunner()


@pytest.fixture
def cli_env(
    settings: Settings, engine: Engine, reference_data: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("SATU_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COLUMNS", "300")  # wide tables: identifiers on one line
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    with transaction(make_sessionmaker(engine)) as session:
        session.execute(delete(MemberKey).where(MemberKey.member_code == "kemenkes"))
        session.execute(delete(Subsystem).where(Subsystem.subsystem_code.like("cli-%")))


def _run(*args: str) -> str:
    result = runner.invoke(app, ["exchange", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_registry_from_the_command_line(cli_env, tmp_path) -> None:
    doc = tmp_path / "openapi.json"
    doc.write_text(json.dumps(POPULATION_OPENAPI))
    assert "ID/GOV/kemenkes/cli-prov" in _run(
        "subsystem", "add", "--agency", "kemenkes", "--code", "cli-prov"
    )
    _run("subsystem", "add", "--agency", "kemenkes", "--code", "cli-cons")
    assert "cli-cons" in _run("subsystem", "list", "--agency", "kemenkes")
    out = _run(
        "service", "add",
        "--subsystem", "ID/GOV/kemenkes/cli-prov",
        "--code", "pop",
        "--base-url", "http://127.0.0.1:9/x",
        "--openapi", str(doc),
        "--operation", "GET /persons/{nik}",
    )  # fmt: skip
    assert "1 operation(s)" in out
    assert "ID/GOV/kemenkes/cli-prov/pop" in _run("service", "list", "--agency", "kemenkes")
    granted = _run(
        "right", "grant",
        "--service", "ID/GOV/kemenkes/cli-prov/pop",
        "--client", "ID/GOV/kemenkes/cli-cons",
    )  # fmt: skip
    right_id = granted.split()[1].rstrip(":")
    assert "ID/GOV/kemenkes/cli-cons" in _run(
        "right", "list", "--service", "ID/GOV/kemenkes/cli-prov/pop"
    )
    _run(
        "mandate", "add",
        "--service", "ID/GOV/kemenkes/cli-prov/pop",
        "--client-agency", "kemensos",
        "--purpose", "bansos",
        "--legal-basis", "UU 13/2011",
    )  # fmt: skip
    assert "bansos" in _run("mandate", "list", "--service", "ID/GOV/kemenkes/cli-prov/pop")
    assert "Revoked" in _run("right", "revoke", right_id)
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    _run(
        "key", "register", "--subsystem", "ID/GOV/kemenkes/cli-cons", "--public-key", key,
        "--key-id", "cli-key-1",
    )  # fmt: skip
    assert "cli-key-1" in _run("key", "list")
    assert "disabled" in _run("service", "disable", "ID/GOV/kemenkes/cli-prov/pop")


def test_cli_errors_are_clear(cli_env, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"swagger": "2.0"}')
    for args, message in [
        (("subsystem", "add", "--agency", "nope", "--code", "cli-x"), "No such agency"),
        (("subsystem", "add", "--agency", "kemenkes", "--code", "a/b"), "subsystem_code"),
        (("service", "disable", "ID/GOV/kemenkes/cli-none/x"), "No service"),
        (("service", "disable", "not-an-id"), "five parts"),
        (
            (
                "service", "add", "--subsystem", "ID/GOV/kemenkes/cli-none", "--code", "x",
                "--base-url", "http://x", "--openapi", str(bad),
            ),
            "No subsystem",
        ),
    ]:  # fmt: skip
        result = runner.invoke(app, ["exchange", *args])
        assert result.exit_code == 1, result.output
        assert message in result.output, result.output
