"""Intake: file a report from any channel, preview what becomes public, "me too", tracking."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from satu.complaints import classifier, deadlines
from satu.complaints.attachments import clean_attachment
from satu.complaints.config import get_complaint_settings
from satu.complaints.models import Attachment, Category, Event, Report, Service, Support
from satu.complaints.notify import tell_reporter
from satu.complaints.presenters import public_report_of
from satu.complaints.routing import find_duplicate, route
from satu.complaints.schemas import FiledReport, Preview, PublicReport, Reporter, ReportIn
from satu.complaints.text import clean_text, fingerprint
from satu.core.db import utcnow
from satu.core.errors import Problem
from satu.core.events import publish
from satu.satudata import service as satudata

GENERIC_SERVICE = "pelayanan-lainnya"


def _invalid(field: str, message: str) -> Problem:
    return Problem(
        "validation-error",
        f"{field}: {message}",
        errors=[{"location": ["body", field], "message": message, "type": "value_error"}],
    )


def check_service(*, session: Session, code: str) -> Service:
    """The active service with `code`; a validation problem naming `service_code` otherwise."""
    service = session.get(Service, code) if code else None
    if service is None or not service.active:
        raise _invalid("service_code", f"unknown service code {code[:60]!r}")
    return service


def _normalise(session: Session, data: ReportIn) -> tuple[ReportIn, Service, str]:
    title = clean_text(data.title)
    body = clean_text(data.body)
    if len(title) < 5:
        raise _invalid("title", "the title needs at least 5 characters")
    if len(body) < 20:
        raise _invalid("body", "the description needs at least 20 characters")
    service = check_service(session=session, code=data.service_code)
    category = data.category_code or service.category_code
    if session.get(Category, category) is None:
        raise _invalid("category_code", f"unknown category {category[:40]!r}")
    if data.region_code and not satudata.is_region(session=session, code=data.region_code):
        raise _invalid("region_code", f"unknown region code {data.region_code[:13]!r}")
    anonymous, confidential = data.anonymous, data.confidential
    if data.kind == "whistleblowing":
        # Whistle-blowing is always both: the system decides, nobody toggles it.
        anonymous, confidential = True, True
    cleaned = data.model_copy(
        update={
            "title": title,
            "body": body,
            "category_code": category,
            "anonymous": anonymous,
            "confidential": confidential,
            "reporter_name": clean_text(data.reporter_name) if data.reporter_name else None,
            "address": clean_text(data.address) if data.address else None,
            "case_ref": clean_text(data.case_ref) if data.case_ref else None,
        }
    )
    return cleaned, service, category


def preview(*, session: Session, data: ReportIn) -> Preview:
    """What the public and the agency would see if this report were filed now."""
    cleaned, service, category = _normalise(session, data)
    notes = []
    if cleaned.kind == "whistleblowing":
        notes.append("whistleblowing reports are always anonymous and confidential")
    if cleaned.confidential:
        notes.append("confidential: the report will not be published")
    if cleaned.anonymous:
        notes.append("anonymous: your identity is hidden from the agency and the public")
    view = None
    if not cleaned.confidential:
        draft = Report(
            number="(baru)",
            kind=cleaned.kind,
            title=cleaned.title,
            body=cleaned.body,
            service_code=service.code,
            category_code=category,
            region_code=cleaned.region_code,
            anonymous=cleaned.anonymous,
            confidential=False,
            reporter_name=cleaned.reporter_name,
            status="unverified",
            supporters=0,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        view = public_report_of(session=session, report=draft, events=[])
    return Preview(
        public=not cleaned.confidential,
        identity_visible_to_agency=not cleaned.anonymous,
        identity_public=False,
        public_view=view,
        notes=notes,
    )


def _suggest(session: Session, text: str) -> tuple[str, str, float] | None:
    model = classifier.current(session=session, path=classifier.default_path())
    if model is None:
        return None
    return model.predict(text)


def file_report(
    *,
    session: Session,
    data: ReportIn,
    reporter: Reporter,
    attachments: Sequence[tuple[str, bytes]] = (),
    now: datetime | None = None,
) -> FiledReport:
    """Validate, clean attachments, route, link duplicates and store a new report."""
    settings = get_complaint_settings()
    now = now or utcnow()
    cleaned, service, category = _normalise(session, data)
    if len(attachments) > settings.max_attachments:
        raise _invalid("attachments", f"at most {settings.max_attachments} files")
    files = [
        clean_attachment(filename=name, data=content, max_bytes=settings.max_attachment_bytes)
        for name, content in attachments
    ]
    text = f"{cleaned.title}\n{cleaned.body}"
    suggestion = _suggest(session, text)
    service_code, category_code = service.code, category
    routing_note = ""
    use_suggestion = (
        suggestion is not None
        and service.code == GENERIC_SERVICE
        and suggestion[2] >= settings.classifier_threshold
        and session.get(Service, suggestion[0]) is not None
    )
    if use_suggestion and suggestion is not None:
        service_code, category_code = suggestion[0], suggestion[1]
        routing_note = f"classifier {suggestion[2]:.2f}: "
    target = route(
        session=session,
        service_code=service_code,
        category_code=category_code,
        region_code=cleaned.region_code,
    )
    certain = target.certain and (service.code != GENERIC_SERVICE or use_suggestion)
    duplicate = find_duplicate(
        session=session, service_code=service.code, region_code=cleaned.region_code, text=text
    )
    region = cleaned.region_code
    report = Report(
        number=f"tmp-{secrets.token_hex(6)}",
        token=secrets.token_urlsafe(24),
        kind=cleaned.kind,
        channel=reporter.channel,
        title=cleaned.title,
        body=cleaned.body,
        fingerprint=fingerprint(text),
        service_code=service.code,
        category_code=category,
        case_ref=cleaned.case_ref,
        region_code=region,
        province_code=region[:2] if region else None,
        regency_code=region[:5] if region and len(region) >= 5 else None,
        latitude=cleaned.latitude,
        longitude=cleaned.longitude,
        address=cleaned.address,
        anonymous=cleaned.anonymous,
        confidential=cleaned.confidential,
        reporter_account_id=reporter.account_id,
        reporter_name=cleaned.reporter_name,
        reporter_email=cleaned.reporter_email,
        reporter_phone=cleaned.reporter_phone,
        api_client=reporter.api_client,
        status="unverified",
        agency_id=target.agency_id,
        escalation_level=0,
        suggested_category=suggestion[1] if suggestion else None,
        suggested_service=suggestion[0] if suggestion else None,
        suggestion_confidence=round(suggestion[2], 4) if suggestion else None,
        routing_note=(routing_note + target.note + ("" if certain else " (verifier decides)"))[
            :300
        ],
        duplicate_of_id=duplicate.id if duplicate else None,
        supporters=0,
        created_at=now,
        updated_at=now,
        verify_due=deadlines.verify_due(now),
    )
    session.add(report)
    session.flush()
    report.number = f"{now.year % 100:02d}{report.id:08d}"
    for clean in files:
        session.add(
            Attachment(
                report_id=report.id,
                filename=clean.filename,
                content_type=clean.content_type,
                size=len(clean.data),
                sha256=clean.sha256,
                data=clean.data,
                created_at=now,
            )
        )
    session.add(
        Event(
            report_id=report.id,
            at=now,
            actor_kind="reporter",
            actor_id=None,
            action="filed",
            from_status=None,
            to_status="unverified",
            agency_id=target.agency_id,
            public=True,
            body="",
            detail={"channel": reporter.channel, "duplicate_of": duplicate.number}
            if duplicate
            else {"channel": reporter.channel},
        )
    )
    session.flush()
    if duplicate is not None:
        add_supporter(session=session, report=duplicate, now=now)
    tell_reporter(session=session, report=report, action="filed")
    publish(
        session,
        "complaints.report_filed",
        {
            "number": report.number,
            "service_code": report.service_code,
            "agency_id": report.agency_id,
        },
    )
    return FiledReport(
        id=report.id,
        number=report.number,
        token=report.token,
        status=report.status,
        agency_id=report.agency_id,
        needs_verifier=not certain,
        duplicate_of=duplicate.number if duplicate else None,
        confidential=report.confidential,
        anonymous=report.anonymous,
    )


def _public_row(session: Session, number: str) -> Report:
    report = session.scalars(select(Report).where(Report.number == number)).first()
    if report is None or report.confidential:
        # A confidential report does not exist for the public: the same answer as unknown.
        raise Problem("not-found", f"There is no public report number {number[:20]!r}.")
    return report


def public_report(*, session: Session, number: str) -> PublicReport:
    """A public, redacted report; not found for confidential or unknown numbers."""
    report = _public_row(session, number)
    events = session.scalars(
        select(Event).where(Event.report_id == report.id, Event.public.is_(True)).order_by(Event.id)
    ).all()
    return public_report_of(session=session, report=report, events=list(events))


def supporter_key(*, account_id: str | None, ip: str | None) -> str:
    """A stable, non-reversible key for "me too": the account, else the address."""
    raw = f"account:{account_id}" if account_id else f"ip:{ip or 'unknown'}"
    return hashlib.sha256(raw.encode()).hexdigest()


def support(*, session: Session, number: str, supporter: str) -> int:
    """Add a "me too" to a public report (once per person); returns the new count."""
    report = _public_row(session, number)
    if report.status == "archived":
        raise Problem("conflict", "This report is archived.")
    exists = session.scalars(
        select(Support.id).where(Support.report_id == report.id, Support.supporter == supporter)
    ).first()
    if exists is not None:
        return report.supporters
    try:
        with session.begin_nested():
            session.add(Support(report_id=report.id, supporter=supporter))
    except IntegrityError:
        return report.supporters
    return add_supporter(session=session, report=report)


def add_supporter(*, session: Session, report: Report, now: datetime | None = None) -> int:
    """Count one more supporter with an SQL increment (concurrent "me too"s are never lost).

    `now`, when given, also marks the report as updated (a linked duplicate).
    """
    values: dict[str, object] = {"supporters": Report.supporters + 1}
    if now is not None:
        values["updated_at"] = now
    session.execute(
        update(Report)
        .where(Report.id == report.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(report, attribute_names=["supporters", "updated_at"])
    return report.supporters


def track(*, session: Session, token: str) -> PublicReport:
    """The reporter's own view of a report (their text unredacted), by secret token."""
    report = report_by_token(session=session, token=token)
    events = session.scalars(
        select(Event).where(Event.report_id == report.id, Event.public.is_(True)).order_by(Event.id)
    ).all()
    return public_report_of(session=session, report=report, events=list(events), redacted=False)


def report_by_token(*, session: Session, token: str) -> Report:
    """The report with this secret token, or not found."""
    report = None
    if token and 16 <= len(token) <= 64:
        report = session.scalars(select(Report).where(Report.token == token)).first()
    if report is None:
        raise Problem("not-found", "No report has this tracking code.")
    return report


def reports_of_account(*, session: Session, account_id: str, limit: int = 100) -> list[dict]:
    """A signed-in reporter's own reports, newest first, with their tracking links."""
    rows = session.scalars(
        select(Report)
        .where(Report.reporter_account_id == account_id)
        .order_by(Report.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "number": r.number,
            "title": r.title,
            "status": r.status,
            "updated_at": r.updated_at,
            "track": f"/pengaduan/lacak/{r.token}",
        }
        for r in rows
    ]
