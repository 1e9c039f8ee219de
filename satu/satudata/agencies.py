"""The agency registry: ministries and agencies (K/L), local governments and their units.

National bodies come from the curated catalogue `data/agencies.csv`; local governments are
derived from the loaded regions: one government per province (`prov-11`) and per regency or
city (`kab-11.01`, `kota-11.71`), each regency/city with the two offices most services route
to (`.disdukcapil`, `.dinsos`). Other domains call these functions through `service.py`.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.core.errors import Problem
from satu.satudata.agencies_schemas import (
    AGENCY_ID_PATTERN,
    AGENCY_KINDS,
    LOCAL_GOVERNMENT_KINDS,
    MAX_AGENCY_PAGE_LIMIT,
    MAX_AGENCY_PAGE_OFFSET,
    MAX_QUERY_LENGTH,
    REGION_CODE_PATTERN,
    AgencyDetail,
    AgencyItem,
    AgencyLoadReport,
    AgencyOut,
    AgencyPage,
    AgencyRegion,
)
from satu.satudata.models import Agency, Region

CATALOGUE = Path(__file__).resolve().parent / "data" / "agencies.csv"
MEMBER_CLASS_GOVERNMENT = "GOV"
MAX_DEPTH = 16  # no real hierarchy is deeper; guards against cycles

_ID_RE = re.compile(AGENCY_ID_PATTERN)
_REGION_RE = re.compile(REGION_CODE_PATTERN)
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


# --- queries -------------------------------------------------------------------------------


def _out(agency: Agency) -> AgencyOut:
    return AgencyOut.model_validate(agency)


def _check_id(agency_id: str) -> str:
    if not isinstance(agency_id, str) or not _ID_RE.match(agency_id):
        raise Problem("not-found", f"No agency has the id {agency_id!r}.", agency_id=agency_id)
    return agency_id


def _load(session: Session, agency_id: str) -> Agency:
    agency = session.get(Agency, _check_id(agency_id))
    if agency is None:
        raise Problem("not-found", f"No agency has the id {agency_id!r}.", agency_id=agency_id)
    return agency


def get_agency(*, session: Session, agency_id: str) -> AgencyOut:
    """The agency with `agency_id`; a not-found problem if there is none."""
    return _out(_load(session, agency_id))


def find_agency(*, session: Session, agency_id: str) -> AgencyOut | None:
    """The agency with `agency_id`, or None."""
    if not isinstance(agency_id, str) or not _ID_RE.match(agency_id):
        return None
    agency = session.get(Agency, agency_id)
    return _out(agency) if agency is not None else None


def agency_ancestors(*, session: Session, agency_id: str) -> list[AgencyOut]:
    """The agencies above `agency_id`, top level first (empty for a top-level agency)."""
    agency = _load(session, agency_id)
    chain: list[AgencyOut] = []
    seen = {agency.id}
    while agency.parent_id is not None and len(chain) < MAX_DEPTH:
        parent = session.get(Agency, agency.parent_id)
        if parent is None or parent.id in seen:
            break
        seen.add(parent.id)
        chain.append(_out(parent))
        agency = parent
    chain.reverse()
    return chain


def agency_children(*, session: Session, agency_id: str) -> list[AgencyOut]:
    """The agencies directly below `agency_id`, in registry order."""
    _load(session, agency_id)
    rows = session.scalars(
        select(Agency).where(Agency.parent_id == agency_id).order_by(*_ORDER)
    ).all()
    return [_out(row) for row in rows]


def agency_detail(*, session: Session, agency_id: str) -> AgencyDetail:
    """One agency with its parent, ancestors, children count and region summary."""
    agency = _out(_load(session, agency_id))
    ancestors = agency_ancestors(session=session, agency_id=agency.id)
    children = session.scalar(
        select(func.count()).select_from(Agency).where(Agency.parent_id == agency.id)
    )
    region = None
    if agency.region_code:
        row = session.execute(
            select(Region.code, Region.name, Region.level, Region.kind).where(
                Region.code == agency.region_code
            )
        ).one_or_none()
        if row is not None:
            region = AgencyRegion(code=row.code, name=row.name, level=row.level, kind=row.kind)
    return AgencyDetail(
        **AgencyItem.of(agency).model_dump(),
        parent=ancestors[-1].ref() if ancestors else None,
        ancestors=[ancestor.ref() for ancestor in ancestors],
        children_count=int(children or 0),
        region=region,
    )


_ORDER = (Agency.sort, Agency.region_code, Agency.id)


def _invalid(field: str, message: str) -> Problem:
    return Problem(
        "validation-error",
        "One or more fields are invalid.",
        errors=[{"location": ["query", field], "message": message, "type": "value_error"}],
    )


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_agencies(
    *,
    session: Session,
    kind: str | None = None,
    parent: str | None = None,
    region: str | None = None,
    q: str | None = None,
    limit: int = 20,
    offset: int = 0,
    include_inactive: bool = False,
) -> AgencyPage:
    """A page of agencies, filtered by kind, parent, region (and inside it) and free text."""
    if kind is not None and kind not in AGENCY_KINDS:
        raise _invalid("kind", f"Input should be one of {', '.join(AGENCY_KINDS)}")
    if parent is not None and not _ID_RE.match(parent):
        raise _invalid("parent", "Not an agency id")
    if region is not None and not _REGION_RE.match(region):
        raise _invalid("region", "Not a region code like 11, 11.01, 11.01.01 or 11.01.01.2001")
    if q is not None and len(q) > MAX_QUERY_LENGTH:
        raise _invalid("q", f"At most {MAX_QUERY_LENGTH} characters")
    if not 1 <= limit <= MAX_AGENCY_PAGE_LIMIT:
        raise _invalid("limit", f"Between 1 and {MAX_AGENCY_PAGE_LIMIT}")
    if not 0 <= offset <= MAX_AGENCY_PAGE_OFFSET:
        raise _invalid("offset", f"Between 0 and {MAX_AGENCY_PAGE_OFFSET}")

    conditions = []
    if not include_inactive:
        conditions.append(Agency.active.is_(True))
    if kind is not None:
        conditions.append(Agency.kind == kind)
    if parent is not None:
        conditions.append(Agency.parent_id == parent)
    if region is not None:
        conditions.append(
            or_(Agency.region_code == region, Agency.region_code.startswith(region + "."))
        )
    text = " ".join((q or "").split())
    if text:
        pattern = _like_pattern(text)
        conditions.append(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (Agency.name, Agency.name_en, Agency.short_name, Agency.id)
                )
            )
        )
    total = session.scalar(select(func.count()).select_from(Agency).where(*conditions))
    rows = session.scalars(
        select(Agency).where(*conditions).order_by(*_ORDER).limit(limit).offset(offset)
    ).all()
    return AgencyPage(
        items=[_out(row) for row in rows], total=int(total or 0), limit=limit, offset=offset
    )


def agency_for_region(*, session: Session, region_code: str) -> AgencyOut:
    """The local government responsible for a region: its regency/city, or its province."""
    code = region_code.strip() if isinstance(region_code, str) else ""
    if not _REGION_RE.match(code):
        raise Problem(
            "validation-error",
            f"{region_code!r} is not a region code like 11, 11.01, 11.01.01 or 11.01.01.2001.",
            region_code=region_code,
        )
    if session.get(Region, code) is None:
        raise Problem("not-found", f"No region has the code {code!r}.", region_code=code)
    governing = code[:5] if len(code) >= 5 else code
    agency = session.scalars(
        select(Agency).where(
            Agency.region_code == governing,
            Agency.kind.in_(LOCAL_GOVERNMENT_KINDS),
            Agency.active.is_(True),
        )
    ).first()
    if agency is None:
        raise Problem(
            "not-found", f"No local government is registered for {code!r}.", region_code=code
        )
    return _out(agency)
