"""JSON API: file and preview reports, public reports, "me too", tracking, officer actions."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from satu.complaints import service, workflow
from satu.complaints.actions import OfficerAction, act
from satu.complaints.edge import account_of, complaints_officer
from satu.complaints.limits import check_intake_rate, client_ip
from satu.complaints.schemas import (
    CaseOut,
    CategoryOut,
    FiledReport,
    Officer,
    Page,
    Preview,
    PublicReport,
    Reporter,
    ReportIn,
    ServiceOut,
)
from satu.complaints.statistics import Statistics, csv_rows
from satu.core.auth import public
from satu.core.db import DbSession
from satu.core.errors import Problem

router = APIRouter(prefix="/api/v1/complaints", tags=["complaints"])
OfficerDep = Annotated[Officer, Depends(complaints_officer)]


@router.get("/categories", dependencies=[Depends(public)])
def categories(session: DbSession) -> list[CategoryOut]:
    """Complaint categories."""
    return service.list_categories(session=session)


@router.get("/services", dependencies=[Depends(public)])
def services(
    session: DbSession, category: Annotated[str | None, Query(max_length=40)] = None
) -> list[ServiceOut]:
    """Services people can report a problem with."""
    return service.list_services(session=session, category_code=category)


@router.post("", status_code=201, dependencies=[Depends(public)])
def file(request: Request, session: DbSession, data: ReportIn) -> FiledReport:
    """File a report (signed in or not); keep the token to follow it."""
    account = account_of(request, session)
    check_intake_rate(request, account_id=account)
    return service.file_report(
        session=session,
        data=data,
        reporter=Reporter(account_id=account, channel="api", ip=client_ip(request)),
    )


@router.post("/preview", dependencies=[Depends(public)])
def preview(session: DbSession, data: ReportIn) -> Preview:
    """What would be public, and who would see the reporter, if this were filed."""
    return service.preview(session=session, data=data)


@router.get("/statistics", dependencies=[Depends(public)])
def statistics(session: DbSession) -> Statistics:
    """Public figures (cached for a short while)."""
    return service.statistics(session=session)


@router.get("/statistics.csv", dependencies=[Depends(public)])
def statistics_csv(session: DbSession) -> Response:
    """Public figures as CSV."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(csv_rows(service.statistics(session=session)))
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="statistik-pengaduan.csv"'},
    )


class ReporterAction(BaseModel):
    """A reporter's reply, rating or reopening, authorised by the report's secret token."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["reply", "rate", "reopen"]
    message: str | None = Field(None, max_length=5000)
    rating: int | None = Field(None, ge=1, le=5)


@router.get("/track/{token}", dependencies=[Depends(public)])
def track(session: DbSession, token: str) -> PublicReport:
    """The reporter's own view of their report."""
    return service.track(session=session, token=token)


@router.post("/track/{token}", dependencies=[Depends(public)])
def reporter_action(session: DbSession, token: str, body: ReporterAction) -> PublicReport:
    """Reply, rate the answer or reopen (once)."""
    report = service.report_by_token(session=session, token=token)
    if body.action == "reply":
        workflow.reporter_reply(session=session, report=report, message=body.message or "")
    elif body.action == "rate":
        if body.rating is None:
            raise Problem("validation-error", "rating: required")
        workflow.rate(session=session, report=report, rating=body.rating)
    else:
        workflow.reopen(session=session, report=report, reason=body.message or "")
    return service.track(session=session, token=token)


@router.get("/cases")
def cases(
    session: DbSession,
    context: OfficerDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    agency: Annotated[str | None, Query(max_length=64, description="acting agency")] = None,
    mine: Annotated[bool, Query(description="only the cases assigned to me")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page:
    """The officer's queue (`mine=true`: the cases assigned to the officer)."""
    return service.queue(
        session=session,
        officer=context,
        status=status,
        mine=mine,
        limit=limit,
        offset=offset,
    )


@router.get("/cases/{report_id}")
def case(
    session: DbSession,
    context: OfficerDep,
    report_id: int,
    agency: Annotated[str | None, Query(max_length=64)] = None,
) -> CaseOut:
    """One case with its full history (only for agencies it is routed or escalated to)."""
    return service.get_case(session=session, officer=context, report_id=report_id)


@router.post("/cases/{report_id}/actions")
def case_action(
    session: DbSession,
    context: OfficerDep,
    report_id: int,
    body: OfficerAction,
    agency: Annotated[str | None, Query(max_length=64)] = None,
) -> CaseOut:
    """Verify, postpone, re-route, archive, merge, follow up, forward, hand back, answer, note,
    assign (to an officer of the case's agency; no `assignee_id` unassigns)."""
    return act(session, context, report_id, body)


@router.get("/{number}", dependencies=[Depends(public)])
def public_report(session: DbSession, number: Annotated[str, Path(max_length=20)]) -> PublicReport:
    """A public report, personal data redacted (confidential reports do not exist here)."""
    return service.public_report(session=session, number=number)


@router.post("/{number}/support", dependencies=[Depends(public)])
def support(request: Request, session: DbSession, number: str) -> dict[str, int]:
    """ "Me too": add your voice to an existing report instead of filing a duplicate."""
    account = account_of(request, session)
    key = service.supporter_key(account_id=account, ip=client_ip(request))
    return {"supporters": service.support(session=session, number=number, supporter=key)}
