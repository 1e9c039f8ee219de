"""JSON API of Satu Data: regions and NIK parsing."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from satu.core.auth import public
from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.satudata import service
from satu.satudata.schemas import (
    MAX_PAGE_LIMIT,
    MAX_PAGE_OFFSET,
    NikBatchRequest,
    NikBatchResult,
    NikDetails,
    RegionDetail,
    RegionItem,
    RegionPage,
)

router = APIRouter(prefix="/api/v1", tags=["satudata"])

REGION_CACHE = "public, max-age=3600"
NIK_CACHE = "no-store"


def _next_url(request: Request, offset: int, limit: int, total: int) -> str | None:
    if offset + limit >= total:
        return None
    params = dict(request.query_params)
    params["offset"] = str(offset + limit)
    params["limit"] = str(limit)
    return f"{request.url.path}?{urlencode(params)}"


@router.get(
    "/regions",
    response_model=RegionPage,
    dependencies=[Depends(public)],
    summary="Search regions by code prefix or name",
)
def list_regions(
    request: Request,
    response: Response,
    session: DbSession,
    parent: Annotated[
        str | None, Query(max_length=20, description="Only direct children of this region")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=100, description="Code prefix (digits and dots) or part of a name"),
    ] = None,
    level: Annotated[
        int | None, Query(ge=1, le=4, description="1 province, 2 regency/city, 3 district, 4")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_PAGE_OFFSET)] = 0,
) -> RegionPage:
    """A page of regions; `next` links to the following page."""
    page = service.search_regions(
        session=session, parent=parent, q=q, level=level, limit=limit, offset=offset
    )
    response.headers["cache-control"] = REGION_CACHE
    return RegionPage(
        items=[RegionItem.of(region) for region in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        next=_next_url(request, page.offset, page.limit, page.total),
    )


@router.get(
    "/regions/{code}",
    response_model=RegionDetail,
    dependencies=[Depends(public)],
    summary="One region with the regions above it",
)
def read_region(
    response: Response,
    session: DbSession,
    code: Annotated[str, Path(max_length=20, description="Region code, e.g. 32.73.01")],
) -> RegionDetail:
    """The region with `code`."""
    detail = service.region_detail(session=session, code=code)
    response.headers["cache-control"] = REGION_CACHE
    return detail


@router.get(
    "/nik/{nik}",
    response_model=NikDetails,
    dependencies=[Depends(public)],
    summary="Parse and check a NIK",
    responses={422: {"description": "The NIK is invalid; `errors` names every faulty part"}},
)
def read_nik(
    response: Response,
    session: DbSession,
    nik: Annotated[str, Path(description="16-digit NIK")],
) -> NikDetails:
    """The parts of a NIK: district (with region names), birth date, sex and serial."""
    response.headers["cache-control"] = NIK_CACHE
    try:
        return service.parse_nik(session=session, value=nik)
    except service.InvalidNik as exc:
        errors = service.nik_errors(exc)
        raise Problem(
            "invalid-nik",
            "The NIK is wrong in: " + ", ".join(error.part for error in errors) + ".",
            headers={"cache-control": NIK_CACHE},
            errors=[error.model_dump() for error in errors],
        ) from exc


@router.post(
    "/nik/validate",
    response_model=NikBatchResult,
    dependencies=[Depends(public)],
    summary="Check up to 1000 NIKs at once",
)
def validate_niks(response: Response, session: DbSession, body: NikBatchRequest) -> NikBatchResult:
    """One verdict per NIK, in the order given: valid with its parts, or its errors."""
    response.headers["cache-control"] = NIK_CACHE
    return service.validate_niks(session=session, values=body.niks)
