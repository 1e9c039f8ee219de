"""The region loader: idempotent bulk upsert, full validation first, the CLI command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import make_sessionmaker, transaction
from satu.core.migrations import upgrade
from satu.satudata import service
from satu.satudata.models import Region, RetiredDistrict

REPO = Path(__file__).resolve().parents[2]


def counts(db: Session) -> tuple[int, int]:
    regions = db.execute(select(func.count()).select_from(Region)).scalar_one()
    retired = db.execute(select(func.count()).select_from(RetiredDistrict)).scalar_one()
    return regions, retired


def fingerprint(db: Session) -> list[tuple[object, ...]]:
    """A few rows of every kind, to see that nothing changed."""
    rows = db.execute(
        select(Region.code, Region.name, Region.population_total, Region.kind).where(
            Region.code.in_(["11", "32.73", "32.73.01", "11.01.01.2001", "91.03.01.3007"])
        )
    )
    return sorted(tuple(row) for row in rows)


@pytest.fixture
def data_copy(settings: Settings, tmp_path: Path) -> Path:
    """A writable copy of the official data folder."""
    target = tmp_path / "wilayah"
    target.mkdir()
    for name in ("wilayah.csv", "population.csv", "retired_district_codes.csv"):
        shutil.copyfile(settings.wilayah_dir / name, target / name)
    return target


def edit_line(path: Path, line: int, replacement: str | None) -> None:
    """Replace (or, with None, delete) one 1-based line of a file."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if replacement is None:
        del lines[line - 1]
    else:
        lines[line - 1] = replacement + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def test_loading_again_changes_nothing(db: Session, settings: Settings) -> None:
    before = counts(db), fingerprint(db)
    report = service.load_regions(session=db, directory=settings.wilayah_dir)
    assert (report.inserted, report.updated, report.deleted) == (0, 0, 0)
    assert report.regions.unchanged == 91599
    assert report.retired_districts.unchanged == 594
    assert (counts(db), fingerprint(db)) == before


def test_changes_are_upserted_and_progress_reported(db: Session, data_copy: Path) -> None:
    wilayah = data_copy / "wilayah.csv"
    lines = wilayah.read_text(encoding="utf-8").splitlines()
    number = lines.index("32.73.01.1001,Sukarasa") + 1
    edit_line(wilayah, number, "32.73.01.1001,Sukarasa Baru")
    with wilayah.open("a", encoding="utf-8") as handle:
        handle.write("32.73.01.1099,Desa Percobaan\n")
    removed = lines.index("11.01.01.2001,Keude Bakongan") + 1
    edit_line(wilayah, removed, None)
    edit_line(data_copy / "population.csv", 3, "11,Aceh,1,2,3")
    advanced: list[int] = []

    report = service.load_regions(session=db, directory=data_copy, progress=advanced.append)

    assert (report.regions.inserted, report.regions.updated, report.deleted) == (1, 2, 1)
    assert report.regions.unchanged == 91599 - 3
    assert sum(advanced) == 91599 + 594
    assert service.get_region(session=db, code="32.73.01.1001").name == "Sukarasa Baru"
    added = service.get_region(session=db, code="32.73.01.1099")
    assert (added.kind, added.parent_code) == ("kelurahan", "32.73.01")
    aceh = service.get_region(session=db, code="11").population
    assert aceh is not None and (aceh.male, aceh.female, aceh.total) == (1, 2, 3)
    assert not service.is_region(session=db, code="11.01.01.2001")
    assert service.search_regions(session=db, q="sukarasa baru").total == 1


def test_retired_codes_are_synchronised(db: Session, data_copy: Path) -> None:
    retired = data_copy / "retired_district_codes.csv"
    edit_line(retired, 2, "91.01.01,Merauke Lama,2021")
    with retired.open("a", encoding="utf-8") as handle:
        handle.write("92.99.99,Percobaan,2020\n")
    report = service.load_regions(session=db, directory=data_copy)
    assert (report.retired_districts.inserted, report.retired_districts.updated) == (1, 1)
    assert "92.99.99" in service.known_district_codes(session=db)
    details = service.parse_nik(session=db, value="9299991708950003")
    assert (details.district.name, details.district.retired) == ("Percobaan", True)
    assert service.parse_nik(session=db, value="9101011708950003").district.name == "Merauke Lama"


def test_region_still_referenced_is_kept(db: Session, data_copy: Path) -> None:
    referenced = db.execute(
        text("SELECT region_code FROM satudata_agency WHERE region_code LIKE '__.__' LIMIT 1")
    ).scalar_one()
    for name in ("wilayah.csv", "population.csv"):
        path = data_copy / name
        kept = [
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if not (line.startswith(referenced + ",") or line.startswith(referenced + "."))
        ]
        path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    subtree = db.execute(
        select(func.count()).select_from(Region).where(Region.code.like(referenced + ".%"))
    ).scalar_one()

    report = service.load_regions(session=db, directory=data_copy)

    assert report.kept >= 1
    assert report.kept + report.deleted == subtree + 1
    assert service.is_region(session=db, code=referenced)
    children = service.search_regions(session=db, parent=referenced, limit=100)
    assert children.total == report.kept - 1 < subtree
    dangling = db.execute(
        text(
            "SELECT count(*) FROM satudata_agency a LEFT JOIN satudata_region r "
            "ON r.code = a.region_code WHERE a.region_code IS NOT NULL AND r.code IS NULL"
        )
    ).scalar_one()
    assert dangling == 0


BROKEN = [
    ("wilayah.csv", 1, "kode,nama", 1, "header"),
    ("wilayah.csv", 5001, "11.01.01.9999,Nowhere", 5001, "not a region code"),
    ("wilayah.csv", 5001, "11.01.01.2001,Duplicate", 5001, "duplicate code 11.01.01.2001"),
    ("wilayah.csv", 5001, "99.01.01.2001,Orphan", 5001, "parent 99.01.01 of 99.01.01.2001"),
    ("wilayah.csv", 5001, "32.73.01.1099,   ", 5001, "name is empty"),
    ("wilayah.csv", 5001, "32.73.01.1099", 5001, "expected 2 fields"),
    ("wilayah.csv", 5001, "32.73.00,Zero", 5001, "all-zero part"),
    ("wilayah.csv", 5001, '32.73.01.1099,"unterminated', 5001, "bad CSV"),
    ("population.csv", 10, "11.07,Kabupaten Pidie,-5,6,1", 10, "male must be a non-negative"),
    ("population.csv", 10, "11.07,Kabupaten Pidie,5,6,1.5", 10, "total must be"),
    ("population.csv", 10, "11.99,Nowhere,5,6,11", 10, "not in wilayah.csv"),
    ("population.csv", 10, "11.07.01,Too deep,5,6,11", 10, "not a region code"),
    ("retired_district_codes.csv", 7, "91.01.06,Tanah Miring,dulu", 7, "must be a year"),
    ("retired_district_codes.csv", 7, "91.01,Tanah Miring,2020", 7, "not a region code"),
]


@pytest.mark.parametrize(("file", "line", "content", "reported", "message"), BROKEN)
def test_broken_file_is_rejected_with_its_line_and_nothing_changes(
    db: Session, data_copy: Path, file: str, line: int, content: str, reported: int, message: str
) -> None:
    before = counts(db), fingerprint(db)
    edit_line(data_copy / file, line, content)
    with pytest.raises(service.ReferenceDataError) as caught:
        service.load_regions(session=db, directory=data_copy)
    error = caught.value
    assert (error.file, error.line) == (file, reported)
    assert message in str(error)
    assert str(error).startswith(f"{file}:{reported}: ")
    assert (counts(db), fingerprint(db)) == before


def test_missing_and_undecodable_files(db: Session, data_copy: Path) -> None:
    (data_copy / "population.csv").unlink()
    with pytest.raises(service.ReferenceDataError, match=r"population\.csv: file not found"):
        service.load_regions(session=db, directory=data_copy)
    (data_copy / "population.csv").write_bytes(b"code,name,male,female,total\n11,\xff\xfe,1,1,2\n")
    with pytest.raises(service.ReferenceDataError, match="not UTF-8"):
        service.load_regions(session=db, directory=data_copy)


def test_empty_region_file_is_rejected(db: Session, data_copy: Path) -> None:
    (data_copy / "wilayah.csv").write_text("code,name\n\n", encoding="utf-8")
    with pytest.raises(service.ReferenceDataError, match="no regions"):
        service.load_regions(session=db, directory=data_copy)


def _run_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SATU_DATABASE_URL": url, "SATU_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "satu", "data", "load-regions", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.slow
def test_cli_loads_into_an_empty_database_then_is_idempotent(
    scratch_database_url: str, data_copy: Path
) -> None:
    first = _run_cli(scratch_database_url, "--directory", str(data_copy))
    assert first.returncode == 0, first.stderr
    assert "Regions: 91599 inserted, 0 updated, 0 unchanged" in first.stdout
    assert "Retired district codes: 594 inserted" in first.stdout
    second = _run_cli(scratch_database_url, "--directory", str(data_copy))
    assert second.returncode == 0, second.stderr
    assert "Regions: 0 inserted, 0 updated, 91599 unchanged, 0 deleted" in second.stdout

    edit_line(data_copy / "wilayah.csv", 42, "11.01,")
    broken = _run_cli(scratch_database_url, "--directory", str(data_copy))
    assert broken.returncode == 1
    assert "wilayah.csv:42: name is empty" in broken.stderr
    assert "Nothing was changed" in broken.stderr

    engine = create_engine(scratch_database_url)
    try:
        with engine.connect() as connection:
            total = connection.execute(text("SELECT count(*) FROM satudata_region")).scalar()
            name = connection.execute(
                text("SELECT name FROM satudata_region WHERE code = '11.01'")
            ).scalar()
    finally:
        engine.dispose()
    assert (total, name) == (91599, "Kabupaten Aceh Selatan")


def test_load_into_fresh_database_in_seconds(scratch_database_url: str, settings: Settings) -> None:
    engine = create_engine(scratch_database_url)
    try:
        upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            report = service.load_regions(session=session, directory=settings.wilayah_dir)
        assert report.regions.inserted == 91599
        assert report.seconds < 30
        with transaction(make_sessionmaker(engine)) as session:
            again = service.load_regions(session=session, directory=settings.wilayah_dir)
            assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
            assert service.parse_nik(session=session, value="9101014101900001").district.retired
    finally:
        engine.dispose()
