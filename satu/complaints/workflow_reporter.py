"""The reporter's workflow actions: reply (or add information), rate the answer, reopen once.

They act on a report the caller has already found by its tracking token, check the transition
and record it with the helpers in `workflow_common`. Callers use these through `workflow`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from satu.complaints import deadlines
from satu.complaints.models import Report
from satu.complaints.workflow_common import _check, _record, _text
from satu.core.db import utcnow
from satu.core.errors import Problem


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
