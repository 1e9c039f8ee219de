"""The agency registry: ministries and agencies (K/L), local governments and their units.

Lookups and listings; the loader lives in `agencies_loader`. Other domains call these
functions through `satu.satudata.service`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from satu.core.errors import Problem
from satu.satudata.agencies_loader import AgencyCatalogueError as AgencyCatalogueError
from satu.satudata.agencies_loader import load_agencies as load_agencies
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
    AgencyOut,
    AgencyPage,
    AgencyRegion,
)
from satu.satudata.models import Agency, Region

MAX_DEPTH = 16  # no real hierarchy is deeper; guards against cycles

_ID_RE = re.compile(AGENCY_ID_PATTERN)
_REGION_RE = re.compile(REGION_CODE_PATTERN)


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


def agency_names(*, session: Session, agency_ids: Iterable[str]) -> dict[str, str]:
    """The names of the known agencies among `agency_ids`, in one query."""
    wanted = {a for a in agency_ids if isinstance(a, str) and _ID_RE.match(a)}
    if not wanted:
        return {}
    rows = session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(wanted)))
    return {agency_id: name for agency_id, name in rows}


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


def agency_descendant_ids(*, session: Session, agency_id: str, limit: int = 5000) -> set[str]:
    """The ids of every agency below `agency_id`: one query per level, at most `limit` ids."""
    found: set[str] = set()
    frontier = {agency_id}
    for _ in range(MAX_DEPTH):
        if not frontier or len(found) >= limit:
            break
        rows = session.scalars(select(Agency.id).where(Agency.parent_id.in_(frontier))).all()
        frontier = {row for row in rows if row not in found and row != agency_id}
        found |= frontier
    return found


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
