"""JSON API of the agency registry: `/api/v1/agencies`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Response

from satu.core.auth import public
from satu.core.db import DbSession
from satu.satudata import agencies
from satu.satudata.agencies_schemas import (
    AGENCY_ID_PATTERN,
    MAX_AGENCY_PAGE_LIMIT,
    MAX_AGENCY_PAGE_OFFSET,
    MAX_QUERY_LENGTH,
    REGION_CODE_PATTERN,
    AgencyDetail,
    AgencyItem,
    AgencyItemPage,
    AgencyKind,
)

router = APIRouter(prefix="/api/v1", tags=["agencies"])

AGENCY_CACHE = "public, max-age=3600"


@router.get(
    "/agencies",
    dependencies=[Depends(public)],
    response_model=AgencyItemPage,
    summary="List agencies: ministries, agencies, local governments and their units",
)
def list_agencies(
    session: DbSession,
    response: Response,
    kind: Annotated[AgencyKind | None, Query(description="Only agencies of this kind.")] = None,
    parent: Annotated[
        str | None,
        Query(pattern=AGENCY_ID_PATTERN, max_length=64, description="Only children of this id."),
    ] = None,
    region: Annotated[
        str | None,
        Query(
            pattern=REGION_CODE_PATTERN,
            description="Only agencies of this region or of regions inside it.",
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=MAX_QUERY_LENGTH, description="Words in the name, short name or id."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AGENCY_PAGE_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_AGENCY_PAGE_OFFSET)] = 0,
) -> AgencyItemPage:
    """Agencies in registry order: national bodies first, then local governments by region."""
    page = agencies.list_agencies(
        session=session,
        kind=kind,
        parent=parent,
        region=region,
        q=q,
        limit=limit,
        offset=offset,
    )
    response.headers["Cache-Control"] = AGENCY_CACHE
    next_url = None
    if offset + limit < page.total and offset + limit <= MAX_AGENCY_PAGE_OFFSET:
        params = {"kind": kind, "parent": parent, "region": region, "q": q}
        query = {key: value for key, value in params.items() if value is not None}
        query.update(limit=limit, offset=offset + limit)
        next_url = f"/api/v1/agencies?{urlencode(query)}"
    return AgencyItemPage(
        items=[AgencyItem.of(item) for item in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        next=next_url,
    )


@router.get(
    "/agencies/for-region/{code}",
    dependencies=[Depends(public)],
    response_model=AgencyItem,
    summary="The local government responsible for a region",
)
def agency_for_region(
    session: DbSession,
    response: Response,
    code: Annotated[str, Path(pattern=REGION_CODE_PATTERN, description="Any region code.")],
) -> AgencyItem:
    """The province, regency or city government in charge of a region, down to a village."""
    agency = agencies.agency_for_region(session=session, region_code=code)
    response.headers["Cache-Control"] = AGENCY_CACHE
    return AgencyItem.of(agency)


@router.get(
    "/agencies/{agency_id}",
    dependencies=[Depends(public)],
    response_model=AgencyDetail,
    summary="One agency with its parent, ancestors, children and region",
)
def get_agency(session: DbSession, response: Response, agency_id: str) -> AgencyDetail:
    """One agency; a not-found problem for an unknown id."""
    detail = agencies.agency_detail(session=session, agency_id=agency_id)
    response.headers["Cache-Control"] = AGENCY_CACHE
    return detail
