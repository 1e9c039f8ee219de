"""`satu identity create-admin` and `add-officer` against the test database (committed data)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from satu.core.config import Settings, get_settings
from satu.core.db import make_sessionmaker, transaction
from satu.identity import service
from satu.identity.models import Account, Resident, RoleGrant
from tests.identity.conftest import resident_data

_created: list[str] = []


@pytest.fixture
def cli_env(
    settings: Settings, engine: Engine, reference_data: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("SATU_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SATU_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    # The commands commit: remove what they made so later tests see the database as before.
    with transaction(make_sessionmaker(engine)) as session:
        ids = list(session.scalars(select(Account.id).where(Account.resident_nik.in_(_created))))
        session.execute(delete(RoleGrant).where(RoleGrant.account_id.in_(ids)))
        session.execute(delete(Account).where(Account.id.in_(ids)))
        session.execute(delete(Resident).where(Resident.nik.in_(_created)))
    _created.clear()


def _committed_resident(engine: Engine) -> str:
    with transaction(make_sessionmaker(engine)) as session:
        nik = service.register_resident(session=session, data=resident_data()).nik
    _created.append(nik)
    return nik


def test_create_admin_and_add_officer(engine: Engine, cli_env: None) -> None:
    from satu.cli import app

    runner = CliRunner()
    nik = _committed_resident(engine)
    made = runner.invoke(
        app, ["identity", "create-admin", "--nik", nik, "--password", "sandi-admin-panjang"]
    )
    assert made.exit_code == 0, made.output
    officer_nik = _committed_resident(engine)
    added = runner.invoke(
        app,
        [
            "identity",
            "add-officer",
            "--nik",
            officer_nik,
            "--agency",
            "kemendagri.dukcapil",
            "--role",
            "verifier",
            "--password",
            "sandi-petugas-panjang",
        ],
    )
    assert added.exit_code == 0, added.output
    with transaction(make_sessionmaker(engine)) as session:
        admin = service.account_for_nik(session=session, nik=nik)
        officer = service.account_for_nik(session=session, nik=officer_nik)
        assert admin is not None and officer is not None
        assert service.officer_context(session=session, account_id=admin.id).is_admin  # type: ignore[union-attr]
        context = service.officer_context(session=session, account_id=officer.id)
        assert context is not None and context.roles_at("kemendagri.dukcapil") == {"verifier"}


def test_cli_refuses_bad_input(engine: Engine, cli_env: None) -> None:
    from satu.cli import app

    runner = CliRunner()
    nik = _committed_resident(engine)
    unknown = runner.invoke(
        app, ["identity", "create-admin", "--nik", "3273011708900009", "--password", "x"]
    )
    assert unknown.exit_code == 2  # a usage error, not a crash
    weak = runner.invoke(app, ["identity", "create-admin", "--nik", nik, "--password", "pendek"])
    assert weak.exit_code == 2
    no_agency = runner.invoke(
        app,
        [
            "identity",
            "add-officer",
            "--nik",
            nik,
            "--role",
            "officer",
            "--password",
            "sandi-panjang-sekali",
        ],
    )
    assert no_agency.exit_code == 2
    bad_agency = runner.invoke(
        app,
        [
            "identity",
            "add-officer",
            "--nik",
            nik,
            "--agency",
            "no.such.agency",
            "--password",
            "sandi-panjang-sekali",
        ],
    )
    assert bad_agency.exit_code == 2
