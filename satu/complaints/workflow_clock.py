"""The workflow's clock: escalating overdue cases one level and auto-closing unanswered answers.

`run_clock` (`satu complaints clock`, run hourly) escalates to the parent agency, then the
ministry that supervises the category, then (if configured) the Ombudsman, and closes
answered cases past their auto-close date, recording each step with `workflow_common`.
Callers use it through `workflow`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from satu.complaints import deadlines
from satu.complaints.calendar import local_date
from satu.complaints.config import get_complaint_settings
from satu.complaints.models import Category, Report
from satu.complaints.routing import agency_exists
from satu.complaints.workflow_common import _record
from satu.core.db import utcnow
from satu.satudata import service as satudata


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
