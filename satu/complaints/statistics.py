"""Public figures: volume by agency, region, category and month; on-time share; median time
to answer; satisfaction. Cached briefly, since a statistics page over a million reports should
not run its aggregates for every visitor."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.orm import Session

from satu.complaints.models import Category, Report
from satu.core.db import utcnow
from satu.satudata import service as satudata

CACHE_SECONDS = 120.0
TOP = 15


class Count(BaseModel):
    """One bar: a key, its label and the number of reports."""

    key: str
    label: str
    count: int


class AgencyFigure(BaseModel):
    """An agency's volume and on-time record."""

    agency_id: str
    label: str
    reports: int
    answered: int
    on_time: int
    on_time_rate: float | None


class Statistics(BaseModel):
    """Everything on the public statistics page."""

    generated_at: datetime
    total: int
    answered: int
    on_time_rate: float | None
    median_days_to_answer: float | None
    rated: int
    mean_rating: float | None
    by_status: list[Count]
    by_kind: list[Count]
    by_category: list[Count]
    by_province: list[Count]
    by_month: list[Count]
    by_agency: list[AgencyFigure]


_lock = threading.Lock()
_cache: dict[str, tuple[float, Statistics]] = {}


def clear_cache() -> None:
    """Forget cached figures (tests, benchmarks)."""
    with _lock:
        _cache.clear()


def _median_days(session: Session) -> float | None:
    seconds = func.extract("epoch", Report.answered_at - Report.created_at)
    if session.get_bind().dialect.name == "postgresql":
        value = session.scalar(
            select(func.percentile_cont(0.5).within_group(seconds)).where(
                Report.answered_at.is_not(None)
            )
        )
        return round(float(value) / 86400, 1) if value is not None else None
    days = func.julianday(Report.answered_at) - func.julianday(Report.created_at)
    answered = session.scalar(
        select(func.count()).select_from(Report).where(Report.answered_at.is_not(None))
    )
    if not answered:
        return None
    value = session.scalar(
        select(days)
        .where(Report.answered_at.is_not(None))
        .order_by(days)
        .limit(1)
        .offset((answered - 1) // 2)
    )
    return round(float(value), 1) if value is not None else None


def _names(session: Session, agency_ids: list[str]) -> dict[str, str]:
    names = {}
    for agency_id in agency_ids:
        agency = satudata.find_agency(session=session, agency_id=agency_id)
        if agency is not None:
            names[agency_id] = agency.short_name or agency.name
    return names


def compute(*, session: Session, now: datetime | None = None) -> Statistics:
    """Compute every figure now (no cache)."""
    now = now or utcnow()
    # One pass over the table for totals and the status/kind/category/province breakdowns.
    on_time_flag = case((Report.on_time.is_(True), 1), else_=0)
    groups = session.execute(
        select(
            Report.status,
            Report.kind,
            Report.category_code,
            Report.province_code,
            func.count(),
            func.count(Report.answered_at),
            func.sum(on_time_flag),
            func.count(Report.rating),
            func.sum(Report.rating),
        ).group_by(Report.status, Report.kind, Report.category_code, Report.province_code)
    ).all()
    total = answered = on_time = rated = rating_sum = 0
    by: dict[str, dict[str, int]] = {"status": {}, "kind": {}, "category": {}, "province": {}}
    for status, kind, category, province, n, n_answered, n_on_time, n_rated, n_sum in groups:
        total += n
        answered += n_answered or 0
        on_time += n_on_time or 0
        rated += n_rated or 0
        rating_sum += n_sum or 0
        for name, key in (("status", status), ("kind", kind), ("category", category)):
            by[name][key] = by[name].get(key, 0) + n
        if province is not None:
            by["province"][province] = by["province"].get(province, 0) + n
    mean_rating = rating_sum / rated if rated else None

    def ranked(counts: dict[str, int], by_key: bool = False) -> list[tuple[str, int]]:
        if by_key:
            return sorted(counts.items())
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    statuses = ranked(by["status"], by_key=True)
    kinds = ranked(by["kind"], by_key=True)
    categories = ranked(by["category"])
    provinces = ranked(by["province"])
    category_names = dict(session.execute(select(Category.code, Category.name)).all())
    province_names = {}
    for code, _ in provinces:
        if satudata.is_region(session=session, code=code):
            province_names[code] = satudata.get_region(session=session, code=code).name
    since = (now - timedelta(days=366)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        month = func.date_trunc("month", func.timezone("UTC", Report.created_at))
    else:
        month = func.strftime("%Y-%m", Report.created_at)
    month_rows = session.execute(
        select(month, func.count())
        .where(Report.created_at >= since)
        .group_by(month)
        .order_by(month)
    ).all()
    months = [(m.strftime("%Y-%m") if postgres else m, c) for m, c in month_rows]
    agencies = session.execute(
        select(
            Report.agency_id,
            func.count(),
            func.count(Report.answered_at),
            func.sum(cast(case((Report.on_time.is_(True), 1), else_=0), Integer)),
        )
        .where(Report.agency_id.is_not(None))
        .group_by(Report.agency_id)
        .order_by(func.count().desc())
        .limit(TOP)
    ).all()
    agency_names = _names(session, [row[0] for row in agencies])
    return Statistics(
        generated_at=now,
        total=total,
        answered=answered,
        on_time_rate=round(on_time / answered, 4) if answered else None,
        median_days_to_answer=_median_days(session),
        rated=rated,
        mean_rating=round(float(mean_rating), 2) if mean_rating is not None else None,
        by_status=[Count(key=s, label=s, count=c) for s, c in statuses],
        by_kind=[Count(key=k, label=k, count=c) for k, c in kinds],
        by_category=[
            Count(key=code, label=category_names.get(code, code), count=c) for code, c in categories
        ],
        by_province=[
            Count(key=code, label=province_names.get(code, code), count=c) for code, c in provinces
        ],
        by_month=[Count(key=m, label=m, count=c) for m, c in months],
        by_agency=[
            AgencyFigure(
                agency_id=agency_id,
                label=agency_names.get(agency_id, agency_id),
                reports=count,
                answered=done or 0,
                on_time=ok or 0,
                on_time_rate=round((ok or 0) / done, 4) if done else None,
            )
            for agency_id, count, done, ok in agencies
        ],
    )


def statistics(*, session: Session, max_age: float = CACHE_SECONDS) -> Statistics:
    """The public figures, computed at most every `max_age` seconds per database."""
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    with _lock:
        cached = _cache.get(key)
    if cached and time.monotonic() - cached[0] < max_age:
        return cached[1]
    figures = compute(session=session)
    with _lock:
        _cache[key] = (time.monotonic(), figures)
    return figures


def agency_on_time(*, session: Session, agency_id: str) -> dict[str, Any]:
    """One agency's record: reports, answered, answered on time and the rate."""
    reports, answered, on_time = session.execute(
        select(
            func.count(),
            func.count(Report.answered_at),
            func.sum(cast(case((Report.on_time.is_(True), 1), else_=0), Integer)),
        ).where(Report.agency_id == agency_id)
    ).one()
    return {
        "agency_id": agency_id,
        "reports": reports or 0,
        "answered": answered or 0,
        "on_time": on_time or 0,
        "on_time_rate": round((on_time or 0) / answered, 4) if answered else None,
    }


_CSV_DANGER = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_DANGER) else text


def csv_rows(figures: Statistics) -> list[list[str]]:
    """The figures as CSV rows (dimension, key, label, reports, answered, on time, rate)."""
    rows = [["dimension", "key", "label", "reports", "answered", "on_time", "on_time_rate"]]
    rows.append(
        [
            "total",
            "",
            "",
            str(figures.total),
            str(figures.answered),
            "",
            _cell(figures.on_time_rate),
        ]
    )
    for dimension, counts in (
        ("status", figures.by_status),
        ("kind", figures.by_kind),
        ("category", figures.by_category),
        ("province", figures.by_province),
        ("month", figures.by_month),
    ):
        for item in counts:
            rows.append(
                [dimension, _cell(item.key), _cell(item.label), str(item.count), "", "", ""]
            )
    for agency in figures.by_agency:
        rows.append(
            [
                "agency",
                _cell(agency.agency_id),
                _cell(agency.label),
                str(agency.reports),
                str(agency.answered),
                str(agency.on_time),
                _cell(agency.on_time_rate),
            ]
        )
    return rows
