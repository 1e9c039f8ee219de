"""Pages of the exchange: the data tracker, where a signed-in resident sees who used their data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from satu.core.auth import access_rule
from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.core.web import render
from satu.exchange import tracker
from satu.identity import service as identity
from satu.identity.schemas import LoginInfo

router = APIRouter(tags=["exchange pages"], include_in_schema=False)

TRACKER_PATH = "/akun/jejak-data"
PAGE_SIZE = 20


@access_rule("account")
def tracker_resident(request: Request, session: DbSession) -> LoginInfo:
    """A signed-in resident; pages send others to the sign-in page."""
    login = identity.current_login(session=session, request=request)
    if login is None:
        raise identity.sign_in_required(request)
    return login


Resident = Annotated[LoginInfo, Depends(tracker_resident)]
NO_STORE = {"cache-control": "no-store"}


@router.get(TRACKER_PATH, response_class=HTMLResponse)
def tracker_page(
    request: Request,
    session: DbSession,
    login: Resident,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Every exchange that touched the signed-in resident's data, newest first."""
    usage = tracker.find_usage(
        session=session,
        nik=login.resident_nik,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    pages = max(1, -(-usage.total // PAGE_SIZE))
    return render(
        request,
        "exchange/tracker.html",
        {
            "usage": usage,
            "page": page,
            "pages": pages,
            "previous_url": f"{TRACKER_PATH}?page={page - 1}" if page > 1 else None,
            "next_url": f"{TRACKER_PATH}?page={page + 1}" if page < pages else None,
        },
        headers=NO_STORE,
    )


@router.get(TRACKER_PATH + "/{index}", response_class=HTMLResponse)
def tracker_record_page(
    request: Request,
    session: DbSession,
    login: Resident,
    index: Annotated[int, Path(ge=0, le=2**62)],
) -> HTMLResponse:
    """One record with its proof of inclusion in the transparency log, checked here."""
    record = tracker.usage_record(session=session, nik=login.resident_nik, index=index)
    if record is None:
        raise Problem("not-found", "There is no such record about you.")
    proof = tracker.proof_for(session=session, nik=login.resident_nik, index=index)
    return render(
        request,
        "exchange/tracker_record.html",
        {"record": record, "proof": proof, "back_url": TRACKER_PATH},
        headers=NO_STORE,
    )
