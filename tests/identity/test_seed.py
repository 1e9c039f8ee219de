"""The synthetic population: NIKs agree with the data, real places, families, speed."""

from __future__ import annotations

import os
from collections import Counter

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from satu.core.config import get_settings
from satu.core.nik import parse_nik
from satu.identity import service
from satu.identity.models import Resident
from satu.satudata import service as satudata


def test_seeded_residents_are_consistent(db: Session) -> None:
    before = db.scalar(select(func.count()).select_from(Resident)) or 0
    result = service.seed_residents(session=db, count=600, seed=42, batch_size=250)
    assert result.residents >= 600
    assert result.families >= 100
    rows = db.scalars(select(Resident).order_by(Resident.created_at.desc())).all()
    assert len(rows) - before == result.residents
    known = satudata.known_district_codes(session=db)
    seeded = [r for r in rows if r.kk_number and r.created_at == rows[0].created_at]
    assert len(seeded) == result.residents
    for person in seeded:
        nik = parse_nik(person.nik, districts=known)
        assert (
            service.nik_mismatches(nik=person.nik, birth_date=person.birth_date, sex=person.sex)
            == []
        )
        assert nik.district_code == person.village_code[:8]
        assert person.kk_number[:6] == person.nik[:6]
    heads = Counter(p.family_relation for p in seeded)
    assert heads["head"] == result.families
    assert heads["child"] > 0 and heads["spouse"] > 0
    children = [p for p in seeded if p.family_relation == "child"]
    by_nik = {p.nik: p for p in seeded}
    for child in children:
        parent = by_nik.get(child.father_nik or child.mother_nik or "")
        assert parent is not None and parent.kk_number == child.kk_number
        assert parent.birth_date < child.birth_date
    provinces = Counter(p.village_code[:2] for p in seeded if p.family_relation == "head")
    assert provinces.most_common(1)[0][0] in {"31", "32", "33", "35", "36", "12"}  # populous
    assert len({p.nik for p in seeded}) == len(seeded)
    resident = service.get_resident(session=db, nik=seeded[0].nik)
    assert resident.address.village.name


def test_seeding_again_never_reuses_a_nik(db: Session) -> None:
    first = service.seed_residents(session=db, count=200, seed=7)
    second = service.seed_residents(session=db, count=200, seed=7)
    total = db.scalar(select(func.count()).select_from(Resident))
    distinct = db.scalar(select(func.count(func.distinct(Resident.nik))))
    assert total == distinct
    assert first.residents >= 200 and second.residents >= 200


def test_seed_command(settings, engine, reference_data, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from satu.cli import app
    from satu.core.db import make_sessionmaker, transaction

    monkeypatch.setenv("SATU_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SATU_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    with transaction(make_sessionmaker(engine)) as session:
        before = set(session.scalars(select(Resident.nik)))
    try:
        result = CliRunner().invoke(app, ["identity", "seed", "--residents", "50", "--seed", "3"])
    finally:
        get_settings.cache_clear()
        # The command commits: remove its residents so later tests see the database as before.
        with transaction(make_sessionmaker(engine)) as session:
            added = set(session.scalars(select(Resident.nik))) - before
            session.execute(delete(Resident).where(Resident.nik.in_(added)))
    assert len(added) >= 50
    assert result.exit_code == 0, result.output
    assert "rows/s" in result.output
    assert os.environ.get("SATU_DATABASE_URL") == settings.database_url


def test_demo_seed_is_idempotent_and_accounts_work(db: Session, client) -> None:  # type: ignore[no-untyped-def]
    from satu.identity.demo import DEMO_PEOPLE
    from tests.identity.conftest import is_signed_in, sign_in

    first = service.seed_demo(session=db)
    second = service.seed_demo(session=db)
    assert second == {"residents added": 0, "demo accounts added": 0}
    assert first["demo accounts added"] in (0, 2)
    db.commit()
    nik, _name, _sex, _born, password, _roles = DEMO_PEOPLE[1]
    assert sign_in(client, nik, password).status_code == 303
    assert is_signed_in(client)
    assert client.get("/petugas").status_code == 200
