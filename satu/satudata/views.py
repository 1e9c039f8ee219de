"""Pages of Satu Data: region lookup (/wilayah) and NIK check (/nik)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date
from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from satu.core.auth import public
from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.core.i18n import gettext_ as _
from satu.core.i18n import locale_var
from satu.core.web import render
from satu.satudata import service
from satu.satudata.schemas import MAX_PAGE_OFFSET, RegionOut

router = APIRouter(tags=["satudata-pages"])

PAGE_SIZE = 50
MAX_QUERY_LENGTH = 100


def _kind_label(kind: str) -> str:
    labels = {
        "province": _("Province"),
        "regency": _("Regency"),
        "city": _("City"),
        "district": _("District"),
        "kelurahan": _("Urban village (kelurahan)"),
        "desa": _("Village (desa)"),
    }
    return labels.get(kind, kind)


def _number(value: int) -> str:
    return format_decimal(value, locale=locale_var.get())


def _region_view(region: RegionOut) -> dict[str, Any]:
    population = None
    if region.population is not None:
        population = {
            "total": _number(region.population.total),
            "male": _number(region.population.male),
            "female": _number(region.population.female),
        }
    return {
        "code": region.code,
        "name": region.name,
        "level": region.level,
        "kind": _kind_label(region.kind),
        "population": population,
        "url": f"/wilayah?{urlencode({'parent': region.code})}" if region.level < 4 else None,
    }


def _offset(raw: str | None) -> int:
    if raw is None or not raw.strip().isdigit():
        return 0
    return min(int(raw.strip()[:7]), MAX_PAGE_OFFSET)


def _page_url(params: dict[str, str], offset: int) -> str:
    return f"/wilayah?{urlencode({**params, 'offset': str(offset)})}"


@router.get("/wilayah", response_class=HTMLResponse, dependencies=[Depends(public)])
def regions_page(
    request: Request,
    session: DbSession,
    q: str | None = None,
    parent: str | None = None,
    offset: str | None = None,
) -> HTMLResponse:
    """Look up regions by name or code, or browse them province by province."""
    query = (q or "").strip()
    start = _offset(offset)
    error = None
    crumbs: list[dict[str, Any]] = [{"label": _("Home"), "url": "/"}]
    crumbs.append({"label": _("Regions"), "url": "/wilayah"})
    current = None
    params: dict[str, str] = {}
    if len(query) > MAX_QUERY_LENGTH:
        error = _("Search for at most 100 characters.")
        query = query[:MAX_QUERY_LENGTH]
    parent_code = (parent or "").strip() or None
    if parent_code:
        try:
            path = service.region_path(session=session, code=parent_code)
        except Problem as problem:
            if problem.status == 404:
                raise
            raise Problem("not-found", _("There is no region with this code.")) from problem
        current = _region_view(path[-1])
        crumbs.extend({"label": r.name, "url": f"/wilayah?parent={r.code}"} for r in path)
        params["parent"] = parent_code
    if query:
        params["q"] = query
    page = None
    if error is None:
        page = service.search_regions(
            session=session,
            parent=parent_code,
            q=query or None,
            level=None if (query or parent_code) else 1,
            limit=PAGE_SIZE,
            offset=start,
        )
    items = [_region_view(region) for region in page.items] if page else []
    total = page.total if page else 0
    return render(
        request,
        "satudata/regions.html",
        {
            "q": query,
            "error": error,
            "current": current,
            "breadcrumbs": crumbs,
            "items": items,
            "total": total,
            "first": start + 1 if items else 0,
            "last": start + len(items),
            "previous_url": _page_url(params, max(start - PAGE_SIZE, 0)) if start > 0 else None,
            "next_url": _page_url(params, start + PAGE_SIZE) if start + PAGE_SIZE < total else None,
            "parent": parent_code,
        },
        status_code=422 if error else 200,
    )


@router.get("/nik", response_class=HTMLResponse, dependencies=[Depends(public)])
def nik_page(request: Request, session: DbSession, nik: str | None = None) -> HTMLResponse:
    """Check a NIK and see what its parts say."""
    value = (nik or "").strip()[:64]
    result = None
    errors: list[dict[str, str]] = []
    if value:
        try:
            details = service.parse_nik(session=session, value=value)
        except service.InvalidNik as exc:
            in_indonesian = locale_var.get() == "id"
            errors = [
                {
                    "part": error.part,
                    "message": error.message_id if in_indonesian else error.message,
                }
                for error in service.nik_errors(exc)
            ]
        else:
            district = details.district
            result = {
                "nik": details.nik,
                "district": district.name or district.code,
                "district_code": district.code,
                "retired": district.retired,
                "regency": district.regency.name or district.regency.code,
                "province": district.province.name or district.province.code,
                "birth_date": format_date(details.birth_date, "long", locale=locale_var.get()),
                "sex": _("Female") if details.sex == "F" else _("Male"),
                "serial": details.serial,
            }
    part_labels = {
        "format": _("Format"),
        "district": _("District code (digits 1-6)"),
        "birth_date": _("Date of birth (digits 7-12)"),
        "serial": _("Serial number (digits 13-16)"),
    }
    for error in errors:
        error["label"] = part_labels[error["part"]]
    return render(
        request,
        "satudata/nik.html",
        {
            "nik": value,
            "result": result,
            "errors": errors,
            "breadcrumbs": [
                {"label": _("Home"), "url": "/"},
                {"label": _("Check a NIK"), "url": "/nik"},
            ],
        },
        status_code=422 if errors else 200,
        headers={"cache-control": "no-store"},
    )
