"""The LAPOR workflow: verifier actions, agency actions, reporter actions, clock and escalation.

States: unverified -> dispositioned -> in_process -> done, plus postponed and archived.
Every transition is checked against the table below and recorded as an event.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from satu.complaints import deadlines, visibility
from satu.complaints.calendar import local_date
from satu.complaints.config import get_complaint_settings
from satu.complaints.intake import add_supporter
from satu.complaints.models import Attachment, Category, Event, ReplyTemplate, Report
from satu.complaints.notify import tell_reporter
from satu.complaints.presenters import case_of, summary_of
from satu.complaints.routing import agency_exists
from satu.complaints.schemas import STATUSES, CaseOut, Officer, Page
from satu.core.db import utcnow
from satu.core.errors import Problem
from satu.core.events import publish
from satu.satudata import service as satudata

# action -> statuses it may start from
ALLOWED: dict[str, tuple[str, ...]] = {
    "verify": ("unverified",),
    "postpone": ("unverified",),
    "reroute": ("unverified", "dispositioned", "in_process"),
    "archive": ("unverified", "postponed"),
    "merge": ("unverified", "postponed", "dispositioned"),
    "follow_up": ("dispositioned",),
    "forward": ("dispositioned", "in_process"),
    "hand_back": ("dispositioned", "in_process"),
    "answer": ("dispositioned", "in_process"),
    "note": ("unverified", "postponed", "dispositioned", "in_process", "done", "archived"),
    "reporter_reply": ("unverified", "postponed", "dispositioned", "in_process", "done"),
    "rate": ("done",),
    "reopen": ("done",),
}
MAX_TEXT = 5000


def _check(report: Report, action: str) -> None:
    if report.status not in ALLOWED[action]:
        raise Problem(
            "conflict",
            f"Cannot {action.replace('_', ' ')} a report that is {report.status}.",
            status_now=report.status,
            action=action,
        )


def _text(value: str | None, field: str, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Problem("validation-error", f"{field}: must not be empty")
    if len(value) > MAX_TEXT:
        raise Problem("validation-error", f"{field}: at most {MAX_TEXT} characters")
    return value


def _record(
    session: Session,
    report: Report,
    *,
    actor_kind: str,
    actor_id: str | None,
    action: str,
    to_status: str | None = None,
    public: bool = True,
    body: str = "",
    detail: dict | None = None,
    now: datetime,
) -> None:
    before = report.status
    if to_status is not None:
        report.status = to_status
    report.updated_at = now
    session.add(
        Event(
            report_id=report.id,
            at=now,
            actor_kind=actor_kind,
            actor_id=actor_id,
            action=action,
            from_status=before,
            to_status=report.status,
            agency_id=report.agency_id,
            public=public,
            body=body,
            detail=detail,
        )
    )
    session.flush()
    publish(
        session,
        "complaints.report_changed",
        {"number": report.number, "action": action, "status": report.status},
    )
    if public and action != "note":
        tell_reporter(session=session, report=report, action=action, body=body)


# --- visibility --------------------------------------------------------------------------


def can_see(*, session: Session, officer: Officer, report: Report) -> bool:
    """Whether the officer may see the case (the rule in `visibility`, shared with `queue`)."""
    return visibility.allows(visibility.scope_of(session=session, officer=officer), report)


def _load(session: Session, officer: Officer, report_id: int) -> Report:
    report = session.get(Report, report_id)
    # Someone else's case is indistinguishable from a missing one.
    if report is None or not can_see(session=session, officer=officer, report=report):
        raise Problem("not-found", f"No case {report_id} in your queue.")
    return report


def _own(officer: Officer, report: Report) -> None:
    if officer.agency_id != report.agency_id and not officer.national:
        raise Problem("forbidden", "Only the responsible agency may act on this case.")


def _verifier(officer: Officer) -> None:
    if not officer.verifier:
        raise Problem("forbidden", "Only a verifier may do this.")


def get_case(*, session: Session, officer: Officer, report_id: int) -> CaseOut:
    """A case with its full history, if the officer may see it."""
    report = _load(session, officer, report_id)
    return case_of(session=session, report=report, today=local_date(utcnow()))


def attachment(
    *, session: Session, officer: Officer, report_id: int, attachment_id: int
) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of a case's attachment, if the officer may see the case."""
    report = _load(session, officer, report_id)
    row = session.get(Attachment, attachment_id)
    if row is None or row.report_id != report.id:
        raise Problem("not-found", "No such attachment.")
    return row.filename, row.content_type, row.data


def queue(
    *,
    session: Session,
    officer: Officer,
    status: str | None = None,
    mine: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """The officer's queue: the cases `can_see` allows, by default those awaiting them.

    Verifiers start with unverified reports, agencies with their open and answered cases;
    `mine` keeps the cases assigned to the officer (by default those still open).
    """
    if not 1 <= limit <= 200 or offset < 0:
        raise Problem("validation-error", "limit must be 1..200 and offset >= 0")
    if status is not None and status not in STATUSES:
        raise Problem("validation-error", f"status: one of {', '.join(STATUSES)}")
    scope = visibility.scope_of(session=session, officer=officer)
    query = select(Report).where(visibility.condition(scope))
    if mine:
        query = query.where(Report.assignee_id == officer.account_id)
    if status:
        query = query.where(Report.status == status)
    elif mine:
        query = query.where(
            Report.status.in_(("unverified", "postponed", "dispositioned", "in_process"))
        )
    elif officer.verifier:
        query = query.where(Report.status == "unverified")
    else:
        query = query.where(Report.status.in_(("dispositioned", "in_process", "done")))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Report.id).limit(limit).offset(offset)).all()
    today = local_date(utcnow())
    return Page(items=[summary_of(r, today) for r in rows], total=total, limit=limit, offset=offset)


# --- verifier actions ----------------------------------------------------------------------


def verify(
    *,
    session: Session,
    officer: Officer,
    report_id: int,
    agency_id: str | None = None,
    category_code: str | None = None,
    now: datetime | None = None,
) -> CaseOut:
    """Verify and disposition to an agency (the routed one unless the verifier names another)."""
    now = now or utcnow()
    _verifier(officer)
    report = _load(session, officer, report_id)
    _check(report, "verify")
    target = agency_id or report.agency_id
    if not target or not agency_exists(session=session, agency_id=target):
        raise Problem("validation-error", "agency_id: name a known agency to disposition to")
    if category_code:
        if session.get(Category, category_code) is None:
            raise Problem("validation-error", f"category_code: unknown {category_code!r}")
        report.category_code = category_code
    if target != report.agency_id:
        report.assignee_id = None
    report.agency_id = target
    report.verified_at = now
    report.followup_due = deadlines.followup_due(now)
    report.settle_due = deadlines.settle_due(now)
    _record(
        session,
        report,
        actor_kind="verifier",
        actor_id=officer.account_id,
        action="verify",
        to_status="dispositioned",
        now=now,
    )
    return case_of(session=session, report=report, today=local_date(now))


def postpone(
    *, session: Session, officer: Officer, report_id: int, message: str, now: datetime | None = None
) -> CaseOut:
    """Ask the reporter for more information; the clock stops until they reply."""
    now = now or utcnow()
    _verifier(officer)
    report = _load(session, officer, report_id)
    _check(report, "postpone")
    body = _text(message, "message")
    _record(
        session,
        report,
        actor_kind="verifier",
        actor_id=officer.account_id,
        action="postpone",
        to_status="postponed",
        body=body,
        now=now,
    )
    return case_of(session=session, report=report, today=local_date(now))


def reroute(
    *,
    session: Session,
    officer: Officer,
    report_id: int,
    agency_id: str,
    reason: str,
    now: datetime | None = None,
) -> CaseOut:
    """Not our authority: send the case to the right agency (never a dead end)."""
    now = now or utcnow()
    report = _load(session, officer, report_id)
    _own(officer, report)
    _check(report, "reroute")
    body = _text(reason, "reason")
    if not agency_id or not agency_exists(session=session, agency_id=agency_id):
        raise Problem("validation-error", "agency_id: name the agency that is responsible")
    if agency_id == report.agency_id:
        raise Problem("validation-error", "agency_id: the case is already with this agency")
    previous = report.agency_id
    report.agency_id = agency_id
    report.assignee_id = None
    report.escalation_level = 0
    report.escalated_to = None
    if report.status == "unverified":
        report.verified_at = now
        report.settle_due = deadlines.settle_due(now)
    report.followup_due = deadlines.followup_due(now)
    _record(
        session,
        report,
        actor_kind="verifier" if officer.verifier else "agency",
        actor_id=officer.account_id,
        action="reroute",
        to_status="dispositioned",
        body=body,
        detail={"from_agency": previous},
        now=now,
    )
    return case_of(session=session, report=report, today=local_date(now))


def archive(
    *, session: Session, officer: Officer, report_id: int, reason: str, now: datetime | None = None
) -> CaseOut:
    """Archive with a reason (spam, not a report, no answer from the reporter)."""
    now = now or utcnow()
    _verifier(officer)
    report = _load(session, officer, report_id)
    _check(report, "archive")
    report.archive_reason = _text(reason, "reason")[:300]
    report.closed_at = now
    _record(
        session,
        report,
        actor_kind="verifier",
        actor_id=officer.account_id,
        action="archive",
        to_status="archived",
        body=report.archive_reason,
        now=now,
    )
    return case_of(session=session, report=report, today=local_date(now))


def merge(
    *,
    session: Session,
    officer: Officer,
    report_id: int,
    into_report_id: int,
    now: datetime | None = None,
) -> CaseOut:
    """Merge a duplicate into an original: archived, linked, its reporter follows the original."""
    now = now or utcnow()
    report = _load(session, officer, report_id)
    original = _load(session, officer, into_report_id)
    _own(officer, report)
    _check(report, "merge")
    if original.id == report.id or original.duplicate_of_id == report.id:
        raise Problem("validation-error", "into_report_id: cannot merge a report into itself")
    report.duplicate_of_id = original.id
    report.archive_reason = f"merged into {original.number}"
    report.closed_at = now
    add_supporter(session=session, report=original, now=now)
    _record(
        session,
        report,
        actor_kind="verifier" if officer.verifier else "agency",
        actor_id=officer.account_id,
        action="merge",
        to_status="archived",
        body=report.archive_reason,
        now=now,
    )
    return case_of(session=session, report=report, today=local_date(now))


# --- agency actions ------------------------------------------------------------------------


def follow_up(
    *,
    session: Session,
    officer: Officer,
    report_id: int,
    message: str = "",
    now: datetime | None = None,
) -> CaseOut:
    """The agency starts handling the case (within 5 working days of disposition)."""
    now = now or utcnow()
    report = _load(session, officer, report_id)
    _own(officer, report)
    _check(report, "follow_up")
    report.followed_up_at = report.followed_up_at or now
    _record(
        session,
        report,
        actor_kind="agency",
        actor_id=officer.account_id,
        action="follow_up",
        to_status="in_process",
        body=_text(message, "message", required=False),
        now=now,
    )
    return case_of(session=session, report=report, today=local_date(now))


def forward(
    *,
    session: Session,
    officer: Officer,
    report_id: int,
    unit_id: str,
    note: str = "",
    now: datetime | None = None,
) -> CaseOut:
    """Forward the case to one of the agency's own sub-units."""
    now = now or utcnow()
    report = _load(session, officer, report_id)
    _own(officer, report)
    _check(report, "forward")
    children = {a.id for a in satudata.agency_children(session=session, agency_id=report.agency_id)}
    if unit_id not in children:
        raise Problem("validation-error", "unit_id: not a sub-unit of the responsible agency")
    previous = report.agency_id
    report.agency_id = unit_id
    report.assignee_id = None
    report.followup_due = deadlines.followup_due(now)
    _record(
        session,
        report,
        actor_kind="agency",
        actor_id=officer.account_id,
        action="forward",
        to_status="dispositioned",
        public=False,
        body=_text(note, "note", required=False),
        detail={"from_agency": previous},
        now=now,
    )
    return case_of(session=session, report=report, today=local_date(now))


def hand_back(
    *,
    session: Session,
    officer: Officer,
    report_id: int,
    reason: str,
    now: datetime | None = None,
) -> CaseOut:
    """Misrouted: hand the case back to the verifiers with a reason."""
    now = now or utcnow()
    report = _load(session, officer, report_id)
    _own(officer, report)
    _check(report, "hand_back")
    body = _text(reason, "reason")
    previous = report.agency_id
    report.verify_due = deadlines.verify_due(now)
    report.assignee_id = None
    report.escalation_level = 0
    report.escalated_to = None
    _record(
        session,
        report,
        actor_kind="agency",
        actor_id=officer.account_id,
        action="hand_back",
        to_status="unverified",
        public=False,
        body=body,
        detail={"from_agency": previous},
        now=now,
    )
    return case_of(session=session, report=report, today=local_date(now))


def answer(
    *,
    session: Session,
    officer: Officer,
    report_id: int,
    message: str,
    now: datetime | None = None,
) -> CaseOut:
    """A public answer that settles the case; it closes by itself after 10 working days."""
    now = now or utcnow()
    report = _load(session, officer, report_id)
    _own(officer, report)
    _check(report, "answer")
    body = _text(message, "message")
    report.followed_up_at = report.followed_up_at or now
    report.answered_at = now
    report.autoclose_due = deadlines.autoclose_due(now)
    if report.on_time is None:
        report.on_time = bool(
            report.escalation_level == 0
            and report.settle_due is not None
            and local_date(now) <= report.settle_due
        )
    _record(
        session,
        report,
        actor_kind="agency",
        actor_id=officer.account_id,
        action="answer",
        to_status="done",
        body=body,
        now=now,
    )
    return case_of(session=session, report=report, today=local_date(now))


def note(
    *,
    session: Session,
    officer: Officer,
    report_id: int,
    message: str,
    now: datetime | None = None,
) -> CaseOut:
    """An internal note: officers see it, the reporter and the public never do."""
    now = now or utcnow()
    report = _load(session, officer, report_id)
    _check(report, "note")
    _record(
        session,
        report,
        actor_kind="verifier" if officer.verifier else "agency",
        actor_id=officer.account_id,
        action="note",
        public=False,
        body=_text(message, "message"),
        now=now,
    )
    return case_of(session=session, report=report, today=local_date(now))


def reply_templates(*, session: Session, agency_id: str | None) -> list[dict[str, str]]:
    """Reply templates for an agency: its own and the shared ones."""
    rows = session.scalars(
        select(ReplyTemplate)
        .where(or_(ReplyTemplate.agency_id.is_(None), ReplyTemplate.agency_id == agency_id))
        .order_by(ReplyTemplate.id)
    ).all()
    return [{"id": str(r.id), "title": r.title, "body": r.body} for r in rows]


def add_reply_template(*, session: Session, officer: Officer, title: str, body: str) -> int:
    """An agency adds a reply template of its own; returns its id."""
    if officer.agency_id is None:
        raise Problem("forbidden", "Only an agency's officers add its templates.")
    row = ReplyTemplate(
        agency_id=officer.agency_id, title=_text(title, "title")[:200], body=_text(body, "body")
    )
    session.add(row)
    session.flush()
    return row.id


# --- reporter actions ----------------------------------------------------------------------


def reporter_reply(
    *, session: Session, report: Report, message: str, now: datetime | None = None
) -> str:
    """The reporter adds information or answers; a postponed report goes back to verification."""
    now = now or utcnow()
    _check(report, "reporter_reply")
    body = _text(message, "message")
    to_status = None
    if report.status == "postponed":
        to_status = "unverified"
        report.verify_due = deadlines.verify_due(now)
    elif report.status == "done":
        report.autoclose_due = None
    _record(
        session,
        report,
        actor_kind="reporter",
        actor_id=None,
        action="reporter_reply",
        to_status=to_status,
        body=body,
        now=now,
    )
    return report.status


def rate(*, session: Session, report: Report, rating: int, now: datetime | None = None) -> str:
    """The reporter rates the answer (1-5); rating closes the report."""
    now = now or utcnow()
    _check(report, "rate")
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise Problem("validation-error", "rating: must be 1 to 5")
    report.rating = rating
    report.closed_at = report.closed_at or now
    _record(
        session,
        report,
        actor_kind="reporter",
        actor_id=None,
        action="rate",
        detail={"rating": rating},
        now=now,
    )
    return report.status


def reopen(*, session: Session, report: Report, reason: str, now: datetime | None = None) -> str:
    """The reporter reopens an answered report, once."""
    now = now or utcnow()
    _check(report, "reopen")
    if report.reopened:
        raise Problem("conflict", "A report can be reopened only once.")
    body = _text(reason, "reason")
    report.reopened = True
    report.closed_at = None
    report.autoclose_due = None
    report.followup_due = deadlines.followup_due(now)
    _record(
        session,
        report,
        actor_kind="reporter",
        actor_id=None,
        action="reopen",
        to_status="in_process",
        body=body,
        now=now,
    )
    return report.status


# --- the clock -----------------------------------------------------------------------------


def _escalation_target(session: Session, report: Report, level: int) -> str | None:
    if level == 1:
        if report.agency_id and agency_exists(session=session, agency_id=report.agency_id):
            chain = satudata.agency_ancestors(session=session, agency_id=report.agency_id)
            if chain:
                return chain[-1].id
        return None
    if level == 2:
        category = session.get(Category, report.category_code)
        return category.ministry_id if category else None
    settings = get_complaint_settings()
    return settings.ombudsman_agency_id if settings.escalate_to_ombudsman else None


def run_clock(
    *, session: Session, now: datetime | None = None, batch: int = 5000
) -> dict[str, int]:
    """Escalate overdue cases one level and auto-close unanswered answers; returns counts."""
    now = now or utcnow()
    today = local_date(now)
    counts = {"escalated": 0, "auto_closed": 0}
    overdue = session.scalars(
        select(Report)
        .where(
            or_(
                (Report.status == "dispositioned") & (Report.followup_due < today),
                (Report.status == "in_process")
                & (
                    ((Report.escalation_level == 0) & (Report.settle_due < today))
                    | ((Report.escalation_level > 0) & (Report.followup_due < today))
                ),
            ),
            Report.escalation_level < 3,
        )
        .limit(batch)
    ).all()
    for report in overdue:
        level = report.escalation_level + 1
        target = _escalation_target(session, report, level)
        if target is None and level == 1:
            level, target = 2, _escalation_target(session, report, 2)
        if target is None:
            continue
        report.escalation_level = level
        report.escalated_to = target
        report.on_time = False
        report.followup_due = deadlines.followup_due(now)
        _record(
            session,
            report,
            actor_kind="system",
            actor_id=None,
            action="escalate",
            public=False,
            detail={"level": level, "to": target},
            now=now,
        )
        counts["escalated"] += 1
    stale = session.scalars(
        select(Report)
        .where(
            Report.status == "done",
            Report.closed_at.is_(None),
            Report.autoclose_due < today,
        )
        .limit(batch)
    ).all()
    for report in stale:
        report.closed_at = now
        _record(
            session,
            report,
            actor_kind="system",
            actor_id=None,
            action="auto_close",
            public=True,
            now=now,
        )
        counts["auto_closed"] += 1
    return counts
