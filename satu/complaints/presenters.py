"""Turn rows into the schemas people see: public (redacted), reporter's own, officer's case."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.complaints.models import Attachment, Category, Event, Report, Service
from satu.complaints.routing import agency_name
from satu.complaints.schemas import (
    AttachmentOut,
    CaseOut,
    CaseSummary,
    EventOut,
    PublicReport,
)
from satu.complaints.text import redact
from satu.identity import service as identity
from satu.satudata import service as satudata

ANONYMOUS_LABEL = "Anonim"
PUBLIC_COORDINATE_DECIMALS = 3  # about 110 m of latitude: the street, not the house


def public_location(report: Report) -> tuple[str | None, float | None, float | None]:
    """(address, latitude, longitude) as the public may see them.

    Anonymous and whistle-blowing reports publish neither an address nor coordinates (a
    place can name the person); other reports publish coordinates rounded to about 100 m and
    the address with the reporter's personal data redacted. The region code stays public.
    """
    if report.anonymous or report.kind == "whistleblowing":
        return None, None, None

    def rounded(value: float | None) -> float | None:
        return round(value, PUBLIC_COORDINATE_DECIMALS) if value is not None else None

    address = redact(report.address, _names(report)) if report.address else None
    return address, rounded(report.latitude), rounded(report.longitude)


def region_name(*, session: Session, code: str | None) -> str | None:
    """'Village, District, Regency, Province' for a region code, or None."""
    if not code or not satudata.is_region(session=session, code=code):
        return None
    path = satudata.region_path(session=session, code=code)
    return ", ".join(region.name for region in reversed(path))


def _event_out(session: Session, event: Event, names: list[str] | None) -> EventOut:
    return EventOut(
        at=event.at,
        actor_kind=event.actor_kind,
        action=event.action,
        from_status=event.from_status,
        to_status=event.to_status,
        agency_id=event.agency_id,
        agency_name=agency_name(session=session, agency_id=event.agency_id),
        public=event.public,
        body=redact(event.body, names) if names is not None else event.body,
    )


def _public_reporter(report: Report) -> str:
    if report.anonymous or not report.reporter_name:
        return ANONYMOUS_LABEL
    # Only the first name is ever public, even when the reporter is not anonymous.
    return report.reporter_name.split()[0]


def public_report_of(
    *, session: Session, report: Report, events: list[Event], redacted: bool = True
) -> PublicReport:
    """The public view of a report (redacted unless it is the reporter's own view)."""
    service = session.get(Service, report.service_code)
    category = session.get(Category, report.category_code)
    names = [report.reporter_name] if report.reporter_name else []
    duplicate_of = None
    if report.duplicate_of_id:
        original = session.get(Report, report.duplicate_of_id)
        if original is not None and not original.confidential:
            duplicate_of = original.number
    return PublicReport(
        number=report.number,
        kind=report.kind,
        title=redact(report.title, names) if redacted else report.title,
        body=redact(report.body, names) if redacted else report.body,
        service_code=report.service_code,
        service_name=service.name if service else report.service_code,
        category_code=report.category_code,
        category_name=category.name if category else report.category_code,
        region_code=report.region_code,
        region_name=region_name(session=session, code=report.region_code),
        status=report.status,
        agency_id=report.agency_id,
        agency_name=agency_name(session=session, agency_id=report.agency_id),
        reporter=_public_reporter(report),
        created_at=report.created_at,
        updated_at=report.updated_at,
        supporters=report.supporters,
        rating=report.rating,
        duplicate_of=duplicate_of,
        events=[_event_out(session, e, names if redacted else None) for e in events],
    )


def due_of(report: Report) -> date | None:
    """The deadline that matters now for a report."""
    if report.status == "unverified":
        return report.verify_due
    if report.status == "dispositioned":
        return report.followup_due
    if report.status == "in_process":
        return report.settle_due if report.escalation_level == 0 else report.followup_due
    if report.status == "done" and report.closed_at is None:
        return report.autoclose_due
    return None


def is_overdue(report: Report, today: date) -> bool:
    """Whether the current deadline has passed (an auto-close date is not an obligation)."""
    if report.status == "done":
        return False
    due = due_of(report)
    return due is not None and due < today


def summary_of(report: Report, today: date) -> CaseSummary:
    """A queue row."""
    return CaseSummary(
        id=report.id,
        number=report.number,
        kind=report.kind,
        title=report.title if not report.anonymous else redact(report.title, _names(report)),
        service_code=report.service_code,
        region_code=report.region_code,
        status=report.status,
        agency_id=report.agency_id,
        escalation_level=report.escalation_level,
        assignee_id=report.assignee_id,
        created_at=report.created_at,
        due=due_of(report),
        overdue=is_overdue(report, today),
        needs_verifier=report.status == "unverified",
    )


def _names(report: Report) -> list[str]:
    return [report.reporter_name] if report.reporter_name else []


def _assignee_name(session: Session, report: Report) -> str | None:
    if not report.assignee_id or not report.agency_id:
        return None
    for colleague in identity.agency_officers(session=session, agency_id=report.agency_id):
        if colleague.account_id == report.assignee_id:
            return colleague.name
    return None  # no longer an active officer there: the id is still shown


def case_of(*, session: Session, report: Report, today: date) -> CaseOut:
    """The officer's view: full history; the reporter's identity only when not anonymous."""
    hide = report.anonymous
    names = _names(report) if hide else None
    events = session.scalars(
        select(Event).where(Event.report_id == report.id).order_by(Event.id)
    ).all()
    files = session.scalars(
        select(Attachment).where(Attachment.report_id == report.id).order_by(Attachment.id)
    ).all()
    duplicates = session.scalars(
        select(Report.number).where(Report.duplicate_of_id == report.id).order_by(Report.id)
    ).all()
    original = session.get(Report, report.duplicate_of_id) if report.duplicate_of_id else None
    service = session.get(Service, report.service_code)
    return CaseOut(
        id=report.id,
        number=report.number,
        kind=report.kind,
        channel=report.channel,
        title=redact(report.title, names) if hide else report.title,
        body=redact(report.body, names) if hide else report.body,
        service_code=report.service_code,
        service_name=service.name if service else report.service_code,
        category_code=report.category_code,
        case_ref=report.case_ref,
        region_code=report.region_code,
        region_name=region_name(session=session, code=report.region_code),
        latitude=report.latitude,
        longitude=report.longitude,
        address=report.address,
        anonymous=report.anonymous,
        confidential=report.confidential,
        reporter_name=None if hide else report.reporter_name,
        reporter_email=None if hide else report.reporter_email,
        reporter_phone=None if hide else report.reporter_phone,
        status=report.status,
        agency_id=report.agency_id,
        agency_name=agency_name(session=session, agency_id=report.agency_id),
        escalation_level=report.escalation_level,
        escalated_to=report.escalated_to,
        assignee_id=report.assignee_id,
        assignee_name=_assignee_name(session, report),
        suggested_category=report.suggested_category,
        suggested_service=report.suggested_service,
        suggestion_confidence=report.suggestion_confidence,
        routing_note=report.routing_note,
        duplicate_of=original.number if original else None,
        duplicates=list(duplicates),
        supporters=report.supporters,
        rating=report.rating,
        reopened=report.reopened,
        archive_reason=report.archive_reason,
        created_at=report.created_at,
        verify_due=report.verify_due,
        followup_due=report.followup_due,
        settle_due=report.settle_due,
        autoclose_due=report.autoclose_due,
        overdue=is_overdue(report, today),
        attachments=[
            AttachmentOut(id=f.id, filename=f.filename, content_type=f.content_type, size=f.size)
            for f in files
        ],
        events=[_event_out(session, e, names) for e in events],
    )
