"""Loading the agency registry: the curated national catalogue plus region-derived governments.

National bodies come from `data/agencies.csv`; local governments are derived from the loaded
regions: one government per province (`prov-11`) and per regency or city (`kab-11.01`,
`kota-11.71`), each regency/city with the two offices most services route to (`.disdukcapil`,
`.dinsos`). The load is a bulk, idempotent upsert: a second run changes nothing.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.satudata.agencies_schemas import (
    AGENCY_ID_PATTERN,
    LOCAL_GOVERNMENT_KINDS,
    AgencyLoadReport,
)
from satu.satudata.models import Agency, Region

CATALOGUE = Path(__file__).resolve().parent / "data" / "agencies.csv"
MEMBER_CLASS_GOVERNMENT = "GOV"

_ID_RE = re.compile(AGENCY_ID_PATTERN)
_URL_RE = re.compile(r"^https://[a-z0-9.\-]+\.[a-z]{2,}(/\S*)?$")
_CATALOGUE_COLUMNS = ("id", "parent_id", "kind", "name", "name_en", "short_name", "website")
_NATIONAL_KINDS = ("ministry", "agency", "unit")
_COMPARED = (
    "name",
    "name_en",
    "short_name",
    "kind",
    "parent_id",
    "region_code",
    "website",
    "member_class",
    "member_code",
    "sort",
    "active",
)

# Sort keys: the catalogue keeps its order (1..n); local governments follow, by region code.
_SORT_PROVINCE = 100_000
_SORT_REGENCY = 200_000
_SORT_LOCAL_UNIT = 300_000

# Provinces whose government has a name of its own (UU 11/2006 Aceh, UU 13/2012 DIY).
_PROVINCE_NAMES = {
    "11": ("Pemerintah Aceh", "Government of Aceh", "Pemerintah Aceh"),
    "31": (None, None, "Pemprov DKI Jakarta"),
    "34": (
        "Pemerintah Daerah Daerah Istimewa Yogyakarta",
        "Regional Government of the Special Region of Yogyakarta",
        "Pemda DIY",
    ),
}

Progress = Callable[[str], None]


class AgencyCatalogueError(ValueError):
    """The agency catalogue file is malformed."""


# --- loading -------------------------------------------------------------------------------


def _clean(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None


def read_catalogue(path: Path = CATALOGUE) -> list[dict[str, Any]]:
    """The national agencies of the catalogue, validated, parents before children."""
    rows: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(_CATALOGUE_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise AgencyCatalogueError(f"{path.name}: missing columns {sorted(missing)}")
        for line, raw in enumerate(reader, start=2):
            row = {column: _clean(raw.get(column)) for column in _CATALOGUE_COLUMNS}
            where = f"{path.name} line {line}"
            agency_id, parent_id, kind = row["id"], row["parent_id"], row["kind"]
            if not agency_id or not _ID_RE.match(agency_id):
                raise AgencyCatalogueError(f"{where}: invalid id {agency_id!r}")
            if agency_id in seen:
                raise AgencyCatalogueError(f"{where}: duplicate id {agency_id!r}")
            if kind not in _NATIONAL_KINDS:
                raise AgencyCatalogueError(f"{where}: kind {kind!r} not one of {_NATIONAL_KINDS}")
            if not row["name"]:
                raise AgencyCatalogueError(f"{where}: name is empty")
            if (kind == "unit") != bool(parent_id):
                raise AgencyCatalogueError(f"{where}: a unit, and only a unit, has a parent")
            if parent_id and parent_id not in seen:
                raise AgencyCatalogueError(f"{where}: parent {parent_id!r} not listed above it")
            if parent_id and not agency_id.startswith(parent_id + "."):
                raise AgencyCatalogueError(f"{where}: unit id must start with '{parent_id}.'")
            if row["website"] and not _URL_RE.match(row["website"]):
                raise AgencyCatalogueError(f"{where}: website {row['website']!r} is not https")
            if row["short_name"] and len(row["short_name"]) > 60:
                raise AgencyCatalogueError(f"{where}: short_name longer than 60 characters")
            seen[agency_id] = kind
            is_member = kind != "unit"
            rows.append(
                {
                    **row,
                    "region_code": None,
                    "member_class": MEMBER_CLASS_GOVERNMENT if is_member else None,
                    "member_code": agency_id if is_member else None,
                    "sort": len(rows) + 1,
                    "active": True,
                }
            )
    return rows


def _local_kind(name: str, region_kind: str | None) -> str:
    if name.startswith("Kota "):
        return "city"
    if name.startswith("Kabupaten "):
        return "regency"
    if region_kind in ("regency", "city"):
        return region_kind
    raise AgencyCatalogueError(f"cannot tell whether {name!r} is a regency or a city")


def _province_row(code: str, name: str) -> dict[str, Any]:
    own_name, own_name_en, short = _PROVINCE_NAMES.get(code, (None, None, None))
    agency_id = f"prov-{code}"
    return {
        "id": agency_id,
        "parent_id": None,
        "kind": "province",
        "name": own_name or f"Pemerintah Provinsi {name}",
        "name_en": own_name_en or f"Provincial Government of {name}",
        "short_name": short or f"Pemprov {name}",
        "website": None,
        "region_code": code,
        "member_class": MEMBER_CLASS_GOVERNMENT,
        "member_code": agency_id,
        "sort": _SORT_PROVINCE,
        "active": True,
    }


def _regency_rows(code: str, name: str, region_kind: str | None) -> list[dict[str, Any]]:
    kind = _local_kind(name, region_kind)
    prefix = "Kota " if kind == "city" else "Kabupaten "
    bare = name[len(prefix) :] if name.startswith(prefix) else name
    administrative = bare.startswith("Administrasi ")
    place = bare.removeprefix("Administrasi ")
    kind_en = "City" if kind == "city" else "Regency"
    if administrative:
        kind_en = f"Administrative {kind_en}"
    short_kind = "Pemkot" if kind == "city" else "Pemkab"
    short_place = f"Adm. {place}" if administrative else place
    agency_id = f"{'kota' if kind == 'city' else 'kab'}-{code}"
    government = {
        "id": agency_id,
        "parent_id": f"prov-{code[:2]}",
        "kind": kind,
        "name": f"Pemerintah {name}",
        "name_en": f"{place} {kind_en} Government",
        "short_name": f"{short_kind} {short_place}",
        "website": None,
        "region_code": code,
        "member_class": MEMBER_CLASS_GOVERNMENT,
        "member_code": agency_id,
        "sort": _SORT_REGENCY,
        "active": True,
    }
    # Jakarta's administrative cities have sub-offices (suku dinas) of the province's offices.
    if administrative:
        office, office_en = "Suku Dinas", "Sub-office"
        short_dukcapil, short_dinsos = f"Sudin Dukcapil {place}", f"Sudin Sosial {place}"
    else:
        office, office_en = "Dinas", "Office"
        where = "Kota" if kind == "city" else "Kab."
        short_dukcapil, short_dinsos = f"Disdukcapil {where} {place}", f"Dinsos {where} {place}"
    units = [
        (
            "disdukcapil",
            f"{office} Kependudukan dan Pencatatan Sipil {name}",
            f"Population and Civil Registration {office_en} of {place} {kind_en}",
            short_dukcapil,
        ),
        (
            "dinsos",
            f"{office} Sosial {name}",
            f"Social Affairs {office_en} of {place} {kind_en}",
            short_dinsos,
        ),
    ]
    rows = [government]
    for suffix, unit_name, unit_name_en, unit_short in units:
        rows.append(
            {
                "id": f"{agency_id}.{suffix}",
                "parent_id": agency_id,
                "kind": "unit",
                "name": unit_name,
                "name_en": unit_name_en,
                "short_name": unit_short,
                "website": None,
                "region_code": code,
                "member_class": None,
                "member_code": None,
                "sort": _SORT_LOCAL_UNIT,
                "active": True,
            }
        )
    return rows


def derive_local_governments(
    regions: Iterable[tuple[str, str, str | None]],
) -> list[dict[str, Any]]:
    """Local-government rows for (code, name, kind) of provinces and regencies/cities."""
    provinces: list[dict[str, Any]] = []
    regencies: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    for code, raw_name, region_kind in sorted(regions):
        name = " ".join(raw_name.split())
        if len(code) == 2:
            provinces.append(_province_row(code, name))
        elif len(code) == 5:
            government, *offices = _regency_rows(code, name, region_kind)
            regencies.append(government)
            units.extend(offices)
    return provinces + regencies + units


def _desired_rows(session: Session, catalogue: Path) -> list[dict[str, Any]]:
    national = read_catalogue(catalogue)
    regions = session.execute(
        select(Region.code, Region.name, Region.kind)
        .where(Region.level.in_((1, 2)))
        .order_by(Region.code)
    ).all()
    local = derive_local_governments((r.code, r.name, r.kind) for r in regions)
    clashes = {row["id"] for row in national} & {row["id"] for row in local}
    if clashes:
        raise AgencyCatalogueError(f"catalogue ids clash with local governments: {sorted(clashes)}")
    return national + local


def load_agencies(
    *, session: Session, progress: Progress | None = None, catalogue: Path = CATALOGUE
) -> AgencyLoadReport:
    """Upsert national agencies and region-derived local governments; a rerun changes nothing."""
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    desired = _desired_rows(session, catalogue)
    local = sum(1 for row in desired if row["kind"] in LOCAL_GOVERNMENT_KINDS)
    if local == 0:
        say("no regions loaded: only national agencies; run `satu data load-regions` first")
    say(f"{len(desired)} agencies wanted ({local} local governments)")

    columns = [getattr(Agency, name) for name in _COMPARED]
    existing = {
        row.id: tuple(row[1:]) for row in session.execute(select(Agency.id, *columns)).all()
    }
    report = AgencyLoadReport()
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in desired:
        report.by_kind[row["kind"]] = report.by_kind.get(row["kind"], 0) + 1
        current = existing.get(row["id"])
        if current is None:
            inserts.append({**row, "created_at": now, "updated_at": now})
        elif current != tuple(row[name] for name in _COMPARED):
            updates.append({**row, "updated_at": now})
        else:
            report.unchanged += 1
    wanted = {row["id"] for row in desired}
    report.unlisted = sum(1 for agency_id in existing if agency_id not in wanted)

    # Parents before children: one statement per depth keeps every foreign key satisfied
    # at each statement's end on both SQLite and PostgreSQL.
    depth: dict[str, int] = {}
    for row in desired:
        depth[row["id"]] = depth[row["parent_id"]] + 1 if row["parent_id"] in depth else 0
    for level in sorted({depth[row["id"]] for row in inserts}):
        session.execute(insert(Agency), [row for row in inserts if depth[row["id"]] == level])
    if updates:
        session.execute(update(Agency), updates)
    session.flush()
    report.inserted, report.updated = len(inserts), len(updates)
    report.seconds = round(time.perf_counter() - started, 3)
    say(
        f"agencies: {report.inserted} inserted, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.unlisted} unlisted ({report.seconds}s)"
    )
    return report
