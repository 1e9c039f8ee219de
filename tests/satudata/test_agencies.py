"""The agency registry service: catalogue, derivation from regions, hierarchy, lookups, reload."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.core.errors import Problem
from satu.core.migrations import upgrade
from satu.satudata import service as satudata
from satu.satudata.agencies_loader import CATALOGUE, derive_local_governments, read_catalogue
from satu.satudata.models import Agency, Region

WILAYAH = Path(__file__).resolve().parents[3] / "shared" / "data" / "wilayah" / "wilayah.csv"


def _count(db: Session, *conditions: object) -> int:
    return int(db.scalar(select(func.count()).select_from(Agency).where(*conditions)) or 0)


# --- the curated national catalogue --------------------------------------------------------


def test_catalogue_has_the_agencies_later_domains_route_to() -> None:
    rows = {row["id"]: row for row in read_catalogue()}
    assert rows["kemendagri.dukcapil"]["short_name"] == "Ditjen Dukcapil"
    assert rows["kemendagri.dukcapil"]["parent_id"] == "kemendagri"
    assert rows["kemensos"]["name"] == "Kementerian Sosial"
    assert rows["kemenkeu.pajak"]["name"] == "Direktorat Jenderal Pajak"
    assert rows["komdigi"]["name"] == "Kementerian Komunikasi dan Digital"
    assert rows["kemendikdasmen"]["name"] == "Kementerian Pendidikan Dasar dan Menengah"
    assert rows["kemenimipas"]["name"] == "Kementerian Imigrasi dan Pemasyarakatan"
    assert rows["kemenpan-rb"]["short_name"] == "KemenPAN-RB"
    for agency_id in ("bps", "bpjs-kesehatan", "bpjs-ketenagakerjaan", "ombudsman", "bgn", "bssn"):
        assert rows[agency_id]["kind"] == "agency"
    # Every row is named in both languages; members of the exchange carry an X-Road identity.
    for row in rows.values():
        assert row["name"] and row["name_en"] and row["short_name"]
        if row["kind"] == "unit":
            assert row["member_class"] is None and row["member_code"] is None
        else:
            assert (row["member_class"], row["member_code"]) == ("GOV", row["id"])
        assert row["website"] is None or row["website"].startswith("https://")


def _write_catalogue(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    path = tmp_path / "agencies.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle,
            fieldnames=["id", "parent_id", "kind", "name", "name_en", "short_name", "website"],
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def _row(agency_id: str, kind: str = "ministry", parent: str = "", **extra: str) -> dict[str, str]:
    return {
        "id": agency_id,
        "parent_id": parent,
        "kind": kind,
        "name": extra.get("name", f"Kementerian {agency_id}"),
        "name_en": "",
        "short_name": "",
        "website": extra.get("website", ""),
    }


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([_row("Kemen Sos")], "invalid id"),
        ([_row("kemensos"), _row("kemensos")], "duplicate id"),
        ([_row("kemensos", kind="province")], "kind"),
        ([_row("kemensos", name="")], "name is empty"),
        ([_row("kemensos.linjamsos", kind="unit")], "only a unit, has a parent"),
        ([_row("kemensos", parent="kemenkes")], "only a unit, has a parent"),
        ([_row("kemensos.linjamsos", kind="unit", parent="kemensos")], "not listed above"),
        ([_row("kemensos"), _row("bps.x", kind="unit", parent="kemensos")], "must start with"),
        ([_row("kemensos", website="http://kemensos.go.id")], "not https"),
    ],
)
def test_a_malformed_catalogue_is_refused(
    tmp_path: Path, rows: list[dict[str, str]], message: str
) -> None:
    with pytest.raises(satudata.AgencyCatalogueError, match=message):
        read_catalogue(_write_catalogue(tmp_path, rows))


def test_a_catalogue_without_required_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "agencies.csv"
    path.write_text("id,name\nkemensos,Kementerian Sosial\n", encoding="utf-8")
    with pytest.raises(satudata.AgencyCatalogueError, match="missing columns"):
        read_catalogue(path)


def test_a_bad_catalogue_changes_nothing(db: Session, tmp_path: Path) -> None:
    before = _count(db)
    path = _write_catalogue(tmp_path, [_row("kemensos"), _row("kemensos")])
    with pytest.raises(satudata.AgencyCatalogueError):
        satudata.load_agencies(session=db, catalogue=path)
    assert _count(db) == before


def test_a_catalogue_id_may_not_take_a_local_government_id(db: Session, tmp_path: Path) -> None:
    path = _write_catalogue(tmp_path, [_row("prov-11", name="Palsu")])
    with pytest.raises(satudata.AgencyCatalogueError, match="clash"):
        satudata.load_agencies(session=db, catalogue=path)


# --- local governments derived from the regions --------------------------------------------


def test_derivation_from_the_official_region_list_alone() -> None:
    with WILAYAH.open(encoding="utf-8", newline="") as handle:
        regions = [
            (row["code"], row["name"], None)
            for row in csv.DictReader(handle)
            if len(row["code"]) in (2, 5)
        ]
    rows = derive_local_governments(regions)
    kinds = [row["kind"] for row in rows]
    assert kinds.count("province") == 38
    assert kinds.count("regency") + kinds.count("city") == 514
    assert kinds.count("unit") == 2 * 514
    assert len({row["id"] for row in rows}) == len(rows)
    assert all(len(row["id"]) <= 64 and len(row["short_name"]) <= 60 for row in rows)


def test_every_province_and_regency_city_has_a_government(db: Session) -> None:
    assert _count(db, Agency.kind == "province") == 38
    assert _count(db, Agency.kind.in_(("regency", "city"))) == 514
    assert _count(db, Agency.kind == "unit", Agency.id.like("%.disdukcapil")) == 514
    assert _count(db, Agency.kind == "unit", Agency.id.like("%.dinsos")) == 514
    assert (
        _count(db, Agency.kind.in_(("province", "regency", "city")), Agency.region_code.is_(None))
        == 0
    )


def test_regency_and_city_governments_are_named_and_kinded_from_the_region(db: Session) -> None:
    kab = satudata.get_agency(session=db, agency_id="kab-11.01")
    assert (kab.kind, kab.name, kab.short_name) == (
        "regency",
        "Pemerintah Kabupaten Aceh Selatan",
        "Pemkab Aceh Selatan",
    )
    assert (kab.parent_id, kab.region_code) == ("prov-11", "11.01")
    kota = satudata.get_agency(session=db, agency_id="kota-11.71")
    assert (kota.kind, kota.name, kota.short_name) == (
        "city",
        "Pemerintah Kota Banda Aceh",
        "Pemkot Banda Aceh",
    )
    # No id says kab- for a city or kota- for a regency.
    assert _count(db, Agency.kind == "city", Agency.id.like("kab-%")) == 0
    assert _count(db, Agency.kind == "regency", Agency.id.like("kota-%")) == 0
    assert _count(db, Agency.kind == "city", ~Agency.name.like("Pemerintah Kota %")) == 0


def test_provinces_are_top_level_with_their_legal_names(db: Session) -> None:
    jabar = satudata.get_agency(session=db, agency_id="prov-32")
    assert (jabar.name, jabar.parent_id, jabar.region_code) == (
        "Pemerintah Provinsi Jawa Barat",
        None,
        "32",
    )
    assert satudata.get_agency(session=db, agency_id="prov-11").name == "Pemerintah Aceh"
    assert satudata.get_agency(session=db, agency_id="prov-34").short_name == "Pemda DIY"
    assert _count(db, Agency.kind == "province", Agency.parent_id.is_not(None)) == 0


def test_jakarta_administrative_cities_have_sub_offices(db: Session) -> None:
    city = satudata.get_agency(session=db, agency_id="kota-31.71")
    assert city.name == "Pemerintah Kota Administrasi Jakarta Pusat"
    office = satudata.get_agency(session=db, agency_id="kota-31.71.disdukcapil")
    assert office.name.startswith("Suku Dinas Kependudukan dan Pencatatan Sipil")
    # The source list has a trailing space after "Jakarta Utara"; names are trimmed.
    assert satudata.get_agency(session=db, agency_id="kota-31.72").name.endswith("Utara")


def test_local_offices_belong_to_their_regency(db: Session) -> None:
    office = satudata.get_agency(session=db, agency_id="kab-11.01.disdukcapil")
    assert office.name == "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Aceh Selatan"
    assert (office.kind, office.parent_id, office.region_code) == ("unit", "kab-11.01", "11.01")
    dinsos = satudata.get_agency(session=db, agency_id="kota-11.71.dinsos")
    assert dinsos.name == "Dinas Sosial Kota Banda Aceh"
    assert dinsos.member_class is None


# --- hierarchy -----------------------------------------------------------------------------


def test_ancestors_run_from_the_top(db: Session) -> None:
    chain = satudata.agency_ancestors(session=db, agency_id="kab-11.01.disdukcapil")
    assert [agency.id for agency in chain] == ["prov-11", "kab-11.01"]
    assert [a.id for a in satudata.agency_ancestors(session=db, agency_id="kab-11.01")] == [
        "prov-11"
    ]
    assert satudata.agency_ancestors(session=db, agency_id="prov-11") == []
    unit = satudata.agency_ancestors(session=db, agency_id="kemendagri.dukcapil")
    assert [agency.id for agency in unit] == ["kemendagri"]
    assert satudata.agency_ancestors(session=db, agency_id="kemensos") == []


def test_ancestors_stop_at_a_cycle(db: Session) -> None:
    db.execute(update(Agency).where(Agency.id == "prov-11").values(parent_id="kab-11.01"))
    chain = satudata.agency_ancestors(session=db, agency_id="kab-11.01.disdukcapil")
    assert [agency.id for agency in chain] == ["prov-11", "kab-11.01"]


def test_children(db: Session) -> None:
    units = satudata.agency_children(session=db, agency_id="kemendagri")
    assert "kemendagri.dukcapil" in [unit.id for unit in units]
    assert all(unit.kind == "unit" and unit.parent_id == "kemendagri" for unit in units)
    aceh = satudata.agency_children(session=db, agency_id="prov-11")
    assert len(aceh) == 23
    assert [agency.region_code for agency in aceh] == sorted(a.region_code for a in aceh)
    assert {agency.kind for agency in aceh} == {"regency", "city"}
    assert satudata.agency_children(session=db, agency_id="kab-11.01.dinsos") == []


def test_descendants_are_the_closure_of_children(db: Session) -> None:
    expected: set[str] = set()
    frontier = ["prov-11"]
    while frontier:
        children = satudata.agency_children(session=db, agency_id=frontier.pop())
        expected |= {child.id for child in children}
        frontier += [child.id for child in children]
    found = satudata.agency_descendant_ids(session=db, agency_id="prov-11")
    assert found == expected and len(found) > 23
    assert satudata.agency_descendant_ids(session=db, agency_id="kemen-tidak-ada") == set()
    assert len(satudata.agency_descendant_ids(session=db, agency_id="prov-11", limit=5)) >= 5


def test_unknown_agency_is_not_found(db: Session) -> None:
    for agency_id in ("kemen-tidak-ada", "NOT AN ID", "", "x" * 65):
        with pytest.raises(Problem) as caught:
            satudata.get_agency(session=db, agency_id=agency_id)
        assert caught.value.status == 404
    with pytest.raises(Problem):
        satudata.agency_ancestors(session=db, agency_id="kemen-tidak-ada")
    with pytest.raises(Problem):
        satudata.agency_children(session=db, agency_id="kemen-tidak-ada")
    assert satudata.find_agency(session=db, agency_id="kemen-tidak-ada") is None
    assert satudata.find_agency(session=db, agency_id="kemensos") is not None


# --- who is responsible for a region -------------------------------------------------------


def test_agency_names_in_one_lookup(db: Session) -> None:
    names = satudata.agency_names(
        session=db, agency_ids=["kemensos", "kemen-tidak-ada", "NOT AN ID", "kemensos"]
    )
    assert names == {"kemensos": satudata.get_agency(session=db, agency_id="kemensos").name}
    assert satudata.agency_names(session=db, agency_ids=[]) == {}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("11.01.01.2001", "kab-11.01"),  # a desa in Aceh Selatan
        ("11.01.01", "kab-11.01"),  # its district
        ("11.01", "kab-11.01"),
        ("11.71", "kota-11.71"),
        ("11", "prov-11"),
        ("31.71", "kota-31.71"),
    ],
)
def test_agency_for_region(db: Session, code: str, expected: str) -> None:
    assert satudata.agency_for_region(session=db, region_code=code).id == expected


def test_agency_for_a_kelurahan(db: Session) -> None:
    village = db.scalars(
        select(Region.code).where(Region.code.like("11.71.%"), Region.level == 4).limit(1)
    ).one()
    assert satudata.agency_for_region(session=db, region_code=village).id == "kota-11.71"


@pytest.mark.parametrize("code", ["", "1", "11.1", "110101", "11.01.01.20011", "aa", None])
def test_agency_for_region_refuses_malformed_codes(db: Session, code: object) -> None:
    with pytest.raises(Problem) as caught:
        satudata.agency_for_region(session=db, region_code=code)  # type: ignore[arg-type]
    assert caught.value.status == 422


def test_agency_for_an_unknown_region_is_not_found(db: Session) -> None:
    with pytest.raises(Problem) as caught:
        satudata.agency_for_region(session=db, region_code="11.99.99.9999")
    assert caught.value.status == 404


def test_agency_for_a_region_without_a_government_is_not_found(db: Session) -> None:
    db.execute(update(Agency).where(Agency.id == "kab-11.01").values(active=False))
    with pytest.raises(Problem) as caught:
        satudata.agency_for_region(session=db, region_code="11.01.01")
    assert caught.value.status == 404


# --- listing -------------------------------------------------------------------------------


def test_list_filters(db: Session) -> None:
    ministries = satudata.list_agencies(session=db, kind="ministry", limit=100)
    assert ministries.total >= 30 and all(a.kind == "ministry" for a in ministries.items)
    assert ministries.items[0].id == "kemendagri"  # catalogue order comes first

    aceh = satudata.list_agencies(session=db, region="11", limit=100)
    # Aceh's government, its 23 regencies/cities and their two offices each.
    assert aceh.total == 1 + 23 * 3
    assert all(a.region_code == "11" or a.region_code.startswith("11.") for a in aceh.items)

    children = satudata.list_agencies(session=db, parent="kemenkeu")
    assert {a.id for a in children.items} >= {"kemenkeu.pajak", "kemenkeu.bea-cukai"}

    nothing = satudata.list_agencies(session=db, parent="tidak-ada")
    assert (nothing.total, nothing.items) == (0, [])


def test_list_free_text(db: Session) -> None:
    found = satudata.list_agencies(session=db, q="dukcapil")
    assert found.items[0].id == "kemendagri.dukcapil"
    assert found.total == 1 + 514  # the Ditjen and every Disdukcapil / Sudin Dukcapil
    assert satudata.list_agencies(session=db, q="  BANDA   aceh ").total == 3
    assert satudata.list_agencies(session=db, q="100%").total == 0
    assert satudata.list_agencies(session=db, q="_").total == 0
    assert (
        satudata.list_agencies(session=db, q="   ").total
        == satudata.list_agencies(session=db).total
    )


def test_list_pages_do_not_overlap(db: Session) -> None:
    first = satudata.list_agencies(session=db, kind="agency", limit=10, offset=0)
    second = satudata.list_agencies(session=db, kind="agency", limit=10, offset=10)
    assert first.total == second.total
    assert not {a.id for a in first.items} & {a.id for a in second.items}


def test_inactive_agencies_are_hidden_unless_asked(db: Session) -> None:
    db.execute(update(Agency).where(Agency.id == "kemensos").values(active=False))
    assert satudata.list_agencies(session=db, q="Kementerian Sosial").total == 0
    assert (
        satudata.list_agencies(session=db, q="Kementerian Sosial", include_inactive=True).total == 1
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "kementerian"},
        {"parent": "Bad Id"},
        {"region": "11.1"},
        {"q": "x" * 101},
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
    ],
)
def test_list_refuses_bad_arguments(db: Session, kwargs: dict[str, object]) -> None:
    with pytest.raises(Problem) as caught:
        satudata.list_agencies(session=db, **kwargs)  # type: ignore[arg-type]
    assert caught.value.status == 422


# --- loading -------------------------------------------------------------------------------


def test_reload_changes_nothing(db: Session) -> None:
    before = db.execute(select(Agency.id, Agency.updated_at).order_by(Agency.id)).all()
    messages: list[str] = []
    report = satudata.load_agencies(session=db, progress=messages.append)
    assert (report.inserted, report.updated, report.unlisted) == (0, 0, 0)
    assert report.unchanged == report.total == len(before)
    assert report.by_kind["province"] == 38
    assert report.seconds < 5
    assert any("unchanged" in message for message in messages)
    after = db.execute(select(Agency.id, Agency.updated_at).order_by(Agency.id)).all()
    assert after == before


def test_reload_repairs_edits_and_keeps_foreign_rows(db: Session) -> None:
    db.execute(update(Agency).where(Agency.id == "kemensos").values(name="Departemen Sosial"))
    db.execute(update(Agency).where(Agency.id == "kab-11.01.dinsos").values(active=False))
    db.add(Agency(id="uji-coba", name="Lembaga Uji Coba", kind="agency"))
    db.flush()
    report = satudata.load_agencies(session=db)
    assert (report.inserted, report.updated, report.unlisted) == (0, 2, 1)
    db.expire_all()
    assert satudata.get_agency(session=db, agency_id="kemensos").name == "Kementerian Sosial"
    assert satudata.get_agency(session=db, agency_id="kab-11.01.dinsos").active
    assert satudata.get_agency(session=db, agency_id="uji-coba").name == "Lembaga Uji Coba"


def test_first_load_into_an_empty_database(scratch_database_url: str, settings: Settings) -> None:
    engine = make_engine(settings, scratch_database_url)
    try:
        upgrade(engine)
        factory = make_sessionmaker(engine)
        with transaction(factory) as session:
            early = satudata.load_agencies(session=session)
        # Before the regions are loaded only the national catalogue can be loaded.
        assert early.total == len(read_catalogue()) and "province" not in early.by_kind
        with transaction(factory) as session:
            satudata.load_regions(session=session, directory=settings.wilayah_dir)
        with transaction(factory) as session:
            first = satudata.load_agencies(session=session)
        assert first.inserted == first.total - early.total and first.updated == 0
        assert first.by_kind["province"] == 38
        assert first.by_kind["regency"] + first.by_kind["city"] == 514
        with transaction(factory) as session:
            again = satudata.load_agencies(session=session)
            office = satudata.get_agency(session=session, agency_id="kota-11.71.dinsos")
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, first.total)
        assert office.parent_id == "kota-11.71"
    finally:
        engine.dispose()


def test_catalogue_file_ships_with_the_package() -> None:
    assert CATALOGUE.is_file()
    assert CATALOGUE.read_text(encoding="utf-8").startswith("id,parent_id,kind,")
