"""Reading the workflow's cases: one case with its history, an attachment, the officer's queue.

Each shows an officer only what `can_see` (in `workflow_common`) allows: someone else's case
answers as if it did not exist. Callers use these through `workflow`.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu.complaints import visibility
from satu.complaints.calendar import local_date
from satu.complaints.models import Attachment, Report
from satu.complaints.presenters import case_of, summary_of
from satu.complaints.schemas import STATUSES, CaseOut, Officer, Page
from satu.complaints.workflow_common import _load
from satu.core.db import utcnow
from satu.core.errors import Problem


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
