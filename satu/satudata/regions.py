"""Regions (Kode Wilayah): lookup, search, paths, population and NIK parsing against them."""

from __future__ import annotations

import re
import threading
import time
import unicodedata
import weakref
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, case, event, func, or_, select
from sqlalchemy.orm import Session

from satu.core.errors import Problem
from satu.core.nik import InvalidNik, Nik
from satu.core.nik import parse_nik as parse_nik_value
from satu.satudata.models import Region, RetiredDistrict
from satu.satudata.schemas import (
    MAX_PAGE_LIMIT,
    MAX_PAGE_OFFSET,
    CodeName,
    NikBatchItem,
    NikBatchResult,
    NikDetails,
    NikDistrict,
    NikError,
    Page,
    Population,
    RegionDetail,
    RegionItem,
    RegionOut,
)

REGION_CODE = re.compile(r"\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?")
_CODE_QUERY = re.compile(r"[\d.]+")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "ʼ": "'"})
MAX_QUERY_LENGTH = 100
MIN_SUBSTRING_LENGTH = 3
DISTRICT_CACHE_SECONDS = 300.0

_T = Region.__table__
_COLUMNS = (
    _T.c.code,
    _T.c.name,
    _T.c.level,
    _T.c.kind,
    _T.c.parent_code,
    _T.c.population_male,
    _T.c.population_female,
    _T.c.population_total,
)


def normalize_name(name: str) -> str:
    """The searchable form of a name: NFKC, lower case, one kind of apostrophe, single spaces."""
    text = unicodedata.normalize("NFKC", name).translate(_QUOTES).lower()
    return " ".join(text.split())


def _out(row: Any) -> RegionOut:
    population = None
    if row.population_total is not None:
        population = Population(
            male=row.population_male or 0,
            female=row.population_female or 0,
            total=row.population_total,
        )
    return RegionOut(
        code=row.code,
        name=row.name,
        level=row.level,
        kind=row.kind,
        parent_code=row.parent_code,
        population=population,
    )


def _check_code(code: str, field: str = "code") -> str:
    code = (code or "").strip()
    if not REGION_CODE.fullmatch(code):
        raise Problem(
            "validation-error",
            f"{field} {code[:20]!r} is not a region code (like 11, 11.01, 11.01.01 "
            "or 11.01.01.2001)",
            errors=[
                {
                    "location": ["query" if field != "code" else "path", field],
                    "message": "not a region code",
                    "type": "region_code",
                }
            ],
        )
    return code


def _invalid(field: str, message: str) -> Problem:
    return Problem(
        "validation-error",
        f"{field}: {message}",
        errors=[{"location": ["query", field], "message": message, "type": "value_error"}],
    )


# --- district code cache -------------------------------------------------------------------

_cache_lock = threading.Lock()
_district_cache: dict[str, tuple[float, frozenset[str]]] = {}


_engine_keys: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _cache_key(session: Session) -> str:
    """The database's URL (password hidden): the cache is per database. Remembered per engine:
    rendering it cost more than the rest of a cached lookup (every gateway call asks)."""
    engine = session.get_bind().engine
    key = _engine_keys.get(engine)
    if key is None:
        key = _engine_keys[engine] = engine.url.render_as_string(hide_password=True)
    return key


def _clear_district_cache(*_args: Any) -> None:
    with _cache_lock:
        _district_cache.clear()


def invalidate_district_cache(*, session: Session | None = None) -> None:
    """Forget cached district codes now (and, given a session, again when its transaction ends)."""
    _clear_district_cache()
    if session is not None:
        event.listen(session, "after_transaction_end", _clear_district_cache, once=True)


def known_district_codes(*, session: Session) -> frozenset[str]:
    """Every district code a NIK may carry: current districts and retired ones."""
    key = _cache_key(session)
    now = time.monotonic()
    with _cache_lock:
        cached = _district_cache.get(key)
        if cached and now - cached[0] < DISTRICT_CACHE_SECONDS:
            return cached[1]
    current = session.execute(select(_T.c.code).where(_T.c.level == 3)).scalars()
    retired = session.execute(select(RetiredDistrict.code)).scalars()
    codes = frozenset([*current, *retired])
    with _cache_lock:
        _district_cache[key] = (now, codes)
    return codes


# --- lookup ----------------------------------------------------------------------------------


def get_region(*, session: Session, code: str) -> RegionOut:
    """The region with `code`; a 422 problem if malformed, 404 if unknown."""
    code = _check_code(code)
    row = session.execute(select(*_COLUMNS).where(_T.c.code == code)).first()
    if row is None:
        raise Problem("not-found", f"There is no region with code {code}.", code=code)
    return _out(row)


def is_region(*, session: Session, code: str) -> bool:
    """Whether `code` is the code of a current region."""
    if not isinstance(code, str) or not REGION_CODE.fullmatch(code):
        return False
    return session.execute(select(_T.c.code).where(_T.c.code == code)).first() is not None


def region_path(*, session: Session, code: str) -> list[RegionOut]:
    """The region and every region above it, province first."""
    region = get_region(session=session, code=code)
    parts = region.code.split(".")
    codes = [".".join(parts[: i + 1]) for i in range(len(parts))]
    rows = session.execute(select(*_COLUMNS).where(_T.c.code.in_(codes)).order_by(_T.c.level))
    return [_out(row) for row in rows]


def region_detail(*, session: Session, code: str) -> RegionDetail:
    """A region with its ancestors and how many regions lie directly below it."""
    path = region_path(session=session, code=code)
    region = path[-1]
    children = session.execute(
        select(func.count()).select_from(_T).where(_T.c.parent_code == region.code)
    ).scalar_one()
    item = RegionItem.of(region)
    return RegionDetail(**item.model_dump(), ancestors=path[:-1], children_count=children)


def regency_populations(*, session: Session) -> list[tuple[str, int, int]]:
    """(regency/city code, male, female) for every regency or city with population figures."""
    rows = session.execute(
        select(_T.c.code, _T.c.population_male, _T.c.population_female)
        .where(_T.c.level == 2, _T.c.population_male.is_not(None))
        .order_by(_T.c.code)
    )
    return [(code, int(male), int(female or 0)) for code, male, female in rows]


# --- search ----------------------------------------------------------------------------------


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _starts_with(column: Any, prefix: str, dialect: str) -> ColumnElement[bool]:
    """A prefix test that can use an index: LIKE on PostgreSQL, a range on SQLite."""
    if dialect == "postgresql":
        return column.like(_escape_like(prefix) + "%", escape="\\")
    return and_(column >= prefix, column < prefix + "\U0010ffff")


def _code_prefix(query: str) -> str:
    if "." not in query and len(query) > 2:
        digits = query[:12]
        groups = [digits[0:2], digits[2:4], digits[4:6], digits[6:10]]
        return ".".join(group for group in groups if group)
    return query


def search_regions(
    *,
    session: Session,
    parent: str | None = None,
    q: str | None = None,
    level: int | None = None,
    limit: int = 20,
    offset: int = 0,
) -> Page:
    """Regions by code prefix or name (prefix matches first), optionally below `parent`."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_LIMIT:
        raise _invalid("limit", f"must be between 1 and {MAX_PAGE_LIMIT}")
    if not isinstance(offset, int) or not 0 <= offset <= MAX_PAGE_OFFSET:
        raise _invalid("offset", f"must be between 0 and {MAX_PAGE_OFFSET}")
    if level is not None and (not isinstance(level, int) or not 1 <= level <= 4):
        raise _invalid("level", "must be 1 (province), 2 (regency/city), 3 (district) or 4")
    dialect = session.get_bind().dialect.name
    conditions: list[ColumnElement[bool]] = []
    order: list[Any] = [_T.c.code]
    if parent is not None and parent.strip():
        parent = _check_code(parent, "parent")
        if not is_region(session=session, code=parent):
            raise Problem("not-found", f"There is no region with code {parent}.", code=parent)
        conditions.append(_T.c.parent_code == parent)
    if level is not None:
        conditions.append(_T.c.level == level)
    query = (q or "").strip()
    if len(query) > MAX_QUERY_LENGTH:
        raise _invalid("q", f"must be at most {MAX_QUERY_LENGTH} characters")
    if query and _CODE_QUERY.fullmatch(query):
        conditions.append(_starts_with(_T.c.code, _code_prefix(query), dialect))
    elif query:
        name = normalize_name(query)
        ns = _T.c.name_search
        if len(name) < MIN_SUBSTRING_LENGTH:
            conditions.append(_starts_with(ns, name, dialect))
            order = [_T.c.level, ns, _T.c.code]
        else:
            pattern = _escape_like(name)
            conditions.append(ns.like(f"%{pattern}%", escape="\\"))
            word_start = or_(
                ns.like(f"{pattern}%", escape="\\"), ns.like(f"% {pattern}%", escape="\\")
            )
            word_rank = case((word_start, 0), else_=1)
            exact_rank = case((ns == name, 0), else_=1)
            order = [word_rank, _T.c.level, exact_rank, ns, _T.c.code]
    where = and_(*conditions) if conditions else None
    count = select(func.count()).select_from(_T)
    rows = select(*_COLUMNS).order_by(*order).limit(limit).offset(offset)
    if where is not None:
        count, rows = count.where(where), rows.where(where)
    total = session.execute(count).scalar_one()
    items = [_out(row) for row in session.execute(rows)] if offset < total else []
    return Page(items=items, total=total, limit=limit, offset=offset)


# --- NIK -------------------------------------------------------------------------------------


def _names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(codes))
    names: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        query = select(_T.c.code, _T.c.name).where(_T.c.code.in_(part))
        names.update((code, name) for code, name in session.execute(query))
    return names


def _retired_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(codes))
    names: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        query = select(RetiredDistrict.code, RetiredDistrict.name).where(
            RetiredDistrict.code.in_(part)
        )
        names.update((code, name) for code, name in session.execute(query))
    return names


def _describe(session: Session, niks: Sequence[Nik]) -> list[NikDetails]:
    """The details of checked NIKs, with region names looked up in one go."""
    districts = {nik.district_code for nik in niks}
    codes = districts | {c[:5] for c in districts} | {c[:2] for c in districts}
    current = _names(session, codes)
    retired = _retired_names(session, districts - current.keys())
    details = []
    for nik in niks:
        code = nik.district_code
        is_retired = code not in current
        details.append(
            NikDetails(
                nik=nik.value,
                district=NikDistrict(
                    code=code,
                    name=retired.get(code) if is_retired else current[code],
                    retired=is_retired,
                    regency=CodeName(code=code[:5], name=current.get(code[:5])),
                    province=CodeName(code=code[:2], name=current.get(code[:2])),
                ),
                birth_date=nik.birth_date,
                sex=nik.sex,
                serial=nik.serial,
            )
        )
    return details


def parse_nik(*, session: Session, value: str, today: date | None = None) -> NikDetails:
    """Parse and check a NIK against known districts; raises `InvalidNik` naming every bad part."""
    districts = known_district_codes(session=session)
    nik = parse_nik_value(value, districts=districts, today=today)
    return _describe(session, [nik])[0]


def nik_errors(exc: InvalidNik) -> list[NikError]:
    """The faulty parts of an invalid NIK, ready to show or send."""
    return [
        NikError(part=issue.part, message=issue.message, message_id=issue.message_id)
        for issue in exc.issues
    ]


def validate_niks(
    *, session: Session, values: Sequence[str], today: date | None = None
) -> NikBatchResult:
    """Check many NIKs at once; one verdict per NIK, in order."""
    districts = known_district_codes(session=session)
    parsed: list[Nik | InvalidNik] = []
    for value in values:
        try:
            parsed.append(parse_nik_value(value, districts=districts, today=today))
        except InvalidNik as exc:
            parsed.append(exc)
    valid = [item for item in parsed if isinstance(item, Nik)]
    described = iter(_describe(session, valid))
    items = []
    for value, item in zip(values, parsed, strict=True):
        if isinstance(item, Nik):
            items.append(NikBatchItem(nik=item.value, valid=True, details=next(described)))
        else:
            items.append(NikBatchItem(nik=str(value)[:32], valid=False, errors=nik_errors(item)))
    return NikBatchResult(valid=len(valid), invalid=len(items) - len(valid), items=items)
