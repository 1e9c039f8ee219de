"""The officers' workflow actions: the verifier's and the agency's named state changes.

Verifiers verify (and disposition), postpone, re-route, archive and merge; agencies follow up,
forward to a sub-unit, hand back, answer and add internal notes, with reply templates of their
own. Each loads the case for the officer, checks the transition and records it with the
helpers in `workflow_common`. Callers use these through `workflow`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from satu.complaints import deadlines
from satu.complaints.calendar import local_date
from satu.complaints.intake import add_supporter
from satu.complaints.models import Category, ReplyTemplate
from satu.complaints.presenters import case_of
from satu.complaints.routing import agency_exists
from satu.complaints.schemas import CaseOut, Officer
from satu.complaints.workflow_common import _check, _load, _own, _record, _text, _verifier
from satu.core.db import utcnow
from satu.core.errors import Problem
from satu.satudata import service as satudata

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
