"""Pages: report a problem (with preview), public report, tracking, statistics, officer queues.

Everything works without JavaScript; every form carries a CSRF token.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from satu.complaints import assignment, charts, service, workflow
from satu.complaints.actions import OfficerAction, act
from satu.complaints.edge import account_of, complaints_officer, complaints_reporter
from satu.complaints.limits import check_intake_rate, client_ip, settings_of
from satu.complaints.schemas import KINDS, Officer, Reporter, ReportIn
from satu.complaints.statistics import csv_rows
from satu.core.auth import public
from satu.core.csrf import csrf_token, verify_csrf
from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.core.web import render

router = APIRouter(tags=["complaints pages"], include_in_schema=False)
CSRF = Depends(verify_csrf)
OfficerDep = Annotated[Officer, Depends(complaints_officer)]
NO_STORE = {"cache-control": "no-store"}


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("csrf_token", csrf_token(request))
    return render(
        request, f"complaints/{template}", context, status_code=status_code, headers=NO_STORE
    )


def _catalogue(session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    categories = service.list_categories(session=session)
    services = service.list_services(session=session)
    groups = [
        {"category": c, "services": [s for s in services if s.category_code == c.code]}
        for c in categories
    ]
    return {"groups": [g for g in groups if g["services"]], "kinds": KINDS}


@router.get("/pengaduan", response_class=HTMLResponse, dependencies=[Depends(public)])
def home(request: Request) -> HTMLResponse:
    """What can be reported, how it is handled, and how to follow a report."""
    return _page(request, "home.html")


@router.get("/pengaduan/baru", response_class=HTMLResponse, dependencies=[Depends(public)])
def new_report(
    request: Request,
    session: DbSession,
    service_code: Annotated[str | None, Query(alias="service", max_length=60)] = None,
    case: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    """The report form, prefilled from a service or case page's "report a problem" link."""
    values = {"service_code": service_code or "", "case_ref": case or "", "kind": "complaint"}
    return _page(request, "new.html", values=values, **_catalogue(session))


def _field_errors(exc: ValidationError) -> dict[str, str]:
    errors = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err.get("loc") else "form"
        errors.setdefault(field, err.get("msg", "invalid"))
    return errors


@router.post("/pengaduan/baru", response_class=HTMLResponse, dependencies=[Depends(public), CSRF])
def submit_report(
    request: Request,
    session: DbSession,
    kind: str = Form("complaint", max_length=20),
    service_code: str = Form("", max_length=60),
    case_ref: str = Form("", max_length=100),
    region_code: str = Form("", max_length=13),
    address: str = Form("", max_length=300),
    title: str = Form("", max_length=1000),
    body: str = Form("", max_length=20000),
    anonymous: str = Form(""),
    confidential: str = Form(""),
    reporter_name: str = Form("", max_length=200),
    reporter_email: str = Form("", max_length=254),
    reporter_phone: str = Form("", max_length=32),
    step: str = Form("preview", max_length=10),
    lampiran: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Preview what will be public, or file the report."""
    values = {
        "kind": kind,
        "service_code": service_code,
        "case_ref": case_ref,
        "region_code": region_code,
        "address": address,
        "title": title,
        "body": body,
        "anonymous": bool(anonymous),
        "confidential": bool(confidential),
        "reporter_name": reporter_name,
        "reporter_email": reporter_email,
        "reporter_phone": reporter_phone,
    }
    context = {"values": values, **_catalogue(session)}
    try:
        data = ReportIn(**{k: (v if v != "" else None) for k, v in values.items()})
    except ValidationError as exc:
        return _page(request, "new.html", 422, errors=_field_errors(exc), **context)
    try:
        if step != "submit":
            preview = service.preview(session=session, data=data)
            return _page(request, "new.html", preview=preview, **context)
        account = account_of(request, session)
        check_intake_rate(request, account_id=account)
        limit = settings_of(request).max_attachment_bytes
        files = [
            (upload.filename or "lampiran", upload.file.read(limit + 1))
            for upload in (lampiran or [])
            if upload.filename
        ]
        filed = service.file_report(
            session=session,
            data=data,
            reporter=Reporter(account_id=account, channel="web", ip=client_ip(request)),
            attachments=files,
        )
    except Problem as problem:
        if problem.status == 429:
            raise
        found = problem.extensions.get("errors") or [{"location": ["form"]}]
        field = str(found[0]["location"][-1])
        return _page(
            request, "new.html", problem.status, errors={field: problem.detail or ""}, **context
        )
    return _page(request, "filed.html", 201, filed=filed)


@router.get(
    "/pengaduan/laporan/{number}", response_class=HTMLResponse, dependencies=[Depends(public)]
)
def report_page(
    request: Request, session: DbSession, number: Annotated[str, Path(max_length=20)]
) -> HTMLResponse:
    """A public report: personal data redacted, anonymous reporters hidden."""
    report = service.public_report(session=session, number=number)
    return _page(request, "report.html", report=report)


@router.post(
    "/pengaduan/laporan/{number}/dukung",
    response_class=HTMLResponse,
    dependencies=[Depends(public), CSRF],
)
def support(
    request: Request, session: DbSession, number: Annotated[str, Path(max_length=20)]
) -> Response:
    """ "Me too" on an existing report."""
    key = service.supporter_key(account_id=account_of(request, session), ip=client_ip(request))
    service.support(session=session, number=number, supporter=key)
    return RedirectResponse(f"/pengaduan/laporan/{number}?didukung=1", status_code=303)


@router.get("/pengaduan/lacak", response_class=HTMLResponse, dependencies=[Depends(public)])
def track_form(
    request: Request, kode: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    """Follow a report with its secret tracking code."""
    if kode:
        return RedirectResponse(f"/pengaduan/lacak/{kode.strip()}", status_code=303)
    return _page(request, "track_form.html")


@router.get("/pengaduan/lacak/{token}", response_class=HTMLResponse, dependencies=[Depends(public)])
def track(
    request: Request, session: DbSession, token: Annotated[str, Path(max_length=64)]
) -> HTMLResponse:
    """The reporter's own view: history, and forms to reply, rate or reopen."""
    report = service.track(session=session, token=token)
    return _page(request, "track.html", report=report, token=token)


@router.post(
    "/pengaduan/lacak/{token}", response_class=HTMLResponse, dependencies=[Depends(public), CSRF]
)
def track_action(
    request: Request,
    session: DbSession,
    token: Annotated[str, Path(max_length=64)],
    action: str = Form("", max_length=10),
    message: str = Form("", max_length=5000),
    rating: int | None = Form(None, ge=1, le=5),
) -> Response:
    """Reply, rate or reopen."""
    report = service.report_by_token(session=session, token=token)
    try:
        if action == "reply":
            workflow.reporter_reply(session=session, report=report, message=message)
        elif action == "rate":
            workflow.rate(session=session, report=report, rating=rating or 0)
        elif action == "reopen":
            workflow.reopen(session=session, report=report, reason=message)
        else:
            raise Problem("validation-error", "Choose reply, rate or reopen.")
    except Problem as problem:
        view = service.track(session=session, token=token)
        return _page(
            request, "track.html", problem.status, report=view, token=token, error=problem.detail
        )
    return RedirectResponse(f"/pengaduan/lacak/{token}", status_code=303)


@router.get("/pengaduan/saya", response_class=HTMLResponse)
def my_reports(
    request: Request, session: DbSession, account_id: Annotated[str, Depends(complaints_reporter)]
) -> HTMLResponse:
    """A signed-in reporter's reports and where each stands (in-app updates)."""
    reports = service.reports_of_account(session=session, account_id=account_id)
    return _page(request, "mine.html", reports=reports)


@router.get("/pengaduan/statistik", response_class=HTMLResponse, dependencies=[Depends(public)])
def statistics_page(request: Request, session: DbSession) -> HTMLResponse:
    """Public figures as server-rendered charts and tables."""
    figures = service.statistics(session=session)
    return render(
        request,
        "complaints/statistics.html",
        {
            "figures": figures,
            "by_category": charts.horizontal_bars(figures.by_category),
            "by_province": charts.horizontal_bars(figures.by_province),
            "by_month": charts.columns(figures.by_month),
        },
        headers={"cache-control": "public, max-age=60"},
    )


@router.get("/pengaduan/statistik.csv", dependencies=[Depends(public)])
def statistics_csv(session: DbSession) -> Response:
    """The same figures as CSV."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(csv_rows(service.statistics(session=session)))
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="statistik-pengaduan.csv"'},
    )


# --- officers ------------------------------------------------------------------------------


@router.get("/petugas/pengaduan", response_class=HTMLResponse)
def queue_page(
    request: Request,
    session: DbSession,
    officer: OfficerDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    mine: Annotated[bool, Query()] = False,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    """The officer's queue, or the cases assigned to them (`?mine=1`)."""
    page = service.queue(
        session=session, officer=officer, status=status or None, mine=mine, offset=offset
    )
    return _page(request, "queue.html", page=page, officer=officer, status=status or "", mine=mine)


def _case_page(
    request: Request, session: Session, officer: Officer, report_id: int, **extra: Any
) -> HTMLResponse:
    case = service.get_case(session=session, officer=officer, report_id=report_id)
    templates = workflow.reply_templates(session=session, agency_id=officer.agency_id)
    colleagues = (
        assignment.officers_of(session=session, agency_id=case.agency_id)
        if officer.agency_id is not None and officer.agency_id == case.agency_id
        else []
    )
    return _page(
        request,
        "case.html",
        extra.pop("status_code", 200),
        case=case,
        officer=officer,
        templates=templates,
        colleagues=colleagues,
        **extra,
    )


@router.get("/petugas/pengaduan/{report_id}", response_class=HTMLResponse)
def case_page(
    request: Request, session: DbSession, officer: OfficerDep, report_id: int
) -> HTMLResponse:
    """A case with its full history and the actions the officer may take."""
    return _case_page(request, session, officer, report_id)


@router.post("/petugas/pengaduan/{report_id}", response_class=HTMLResponse, dependencies=[CSRF])
def case_action(
    request: Request,
    session: DbSession,
    officer: OfficerDep,
    report_id: int,
    action: str = Form("", max_length=20),
    message: str = Form("", max_length=5000),
    agency_id: str = Form("", max_length=64),
    unit_id: str = Form("", max_length=64),
    category_code: str = Form("", max_length=40),
    into_report_id: int | None = Form(None),
    template_id: str = Form("", max_length=12),
    assignee_id: str = Form("", max_length=64),
) -> Response:
    """Run one action, then show the case again."""
    if not message and template_id:
        for template in workflow.reply_templates(session=session, agency_id=officer.agency_id):
            if template["id"] == template_id:
                message = template["body"]
    try:
        body = OfficerAction(
            action=action,  # type: ignore[arg-type]
            message=message or None,
            agency_id=agency_id or None,
            unit_id=unit_id or None,
            category_code=category_code or None,
            into_report_id=into_report_id,
            assignee_id=assignee_id or None,
        )
        act(session, officer, report_id, body)
    except (Problem, ValidationError) as exc:
        detail = exc.detail if isinstance(exc, Problem) else "Choose an action."
        status = exc.status if isinstance(exc, Problem) else 422
        if status == 404:
            raise
        return _case_page(request, session, officer, report_id, status_code=status, error=detail)
    suffix = f"?agency={officer.agency_id}" if officer.agency_id else ""
    return RedirectResponse(f"/petugas/pengaduan/{report_id}{suffix}", status_code=303)


@router.get("/petugas/pengaduan/{report_id}/lampiran/{attachment_id}")
def attachment(
    session: DbSession, officer: OfficerDep, report_id: int, attachment_id: int
) -> Response:
    """Download an attachment of a case the officer may see (cleaned of metadata at intake)."""
    name, content_type, data = workflow.attachment(
        session=session, officer=officer, report_id=report_id, attachment_id=attachment_id
    )
    return Response(
        data,
        media_type=content_type,
        headers={"content-disposition": f'attachment; filename="{name}"', **NO_STORE},
    )
