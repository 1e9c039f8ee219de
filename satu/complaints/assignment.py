"""Assigning a case to an officer of the agency that holds it, reassigning, unassigning.

Only an officer acting for the case's current agency may assign it, and only to an active
officer of that agency (identity's `agency_officers`). Every change is an internal history
event (who, from whom, to whom). When the case leaves the agency the assignment ends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from satu.complaints.calendar import local_date
from satu.complaints.presenters import case_of
from satu.complaints.schemas import CaseOut, Officer
from satu.complaints.workflow import _load, _record
from satu.core.db import utcnow
from satu.core.errors import Problem
from satu.identity import service as identity

ASSIGNABLE = ("unverified", "postponed", "dispositioned", "in_process")


def officers_of(*, session: Session, agency_id: str | None) -> list[dict[str, str]]:
    """The officers a case of `agency_id` may be assigned to: account id and name."""
    if not agency_id:
        return []
    return [
        {"account_id": o.account_id, "name": o.name}
        for o in identity.agency_officers(session=session, agency_id=agency_id)
    ]


def assign(
    *,
    session: Session,
    officer: Officer,
    report_id: int,
    assignee_id: str | None,
    now: datetime | None = None,
) -> CaseOut:
    """Assign the case to an officer of its agency (None: unassign); recorded in the history."""
    now = now or utcnow()
    report = _load(session, officer, report_id)
    if officer.agency_id is None or officer.agency_id != report.agency_id:
        raise Problem(
            "forbidden", "Only an officer of the agency that holds the case may assign it."
        )
    if report.status not in ASSIGNABLE:
        raise Problem(
            "conflict",
            f"Cannot assign a report that is {report.status}.",
            status_now=report.status,
            action="assign",
        )
    wanted = (assignee_id or "").strip() or None
    name = ""
    if wanted is not None:
        colleagues = {o["account_id"]: o["name"] for o in officers_of(
            session=session, agency_id=report.agency_id
        )}  # fmt: skip
        if wanted not in colleagues:
            raise Problem(
                "validation-error",
                "assignee_id: not an officer of the agency that holds the case",
                errors=[
                    {
                        "location": ["body", "assignee_id"],
                        "message": "not an officer of the agency that holds the case",
                        "type": "value_error",
                    }
                ],
            )
        name = colleagues[wanted]
    previous = report.assignee_id
    if wanted == previous:
        raise Problem("conflict", "The case is already assigned so.", action="assign")
    report.assignee_id = wanted
    _record(
        session,
        report,
        actor_kind="verifier" if officer.verifier else "agency",
        actor_id=officer.account_id,
        action="assign" if wanted else "unassign",
        public=False,
        body=name,
        detail={"from": previous, "to": wanted},
        now=now,
    )
    return case_of(session=session, report=report, today=local_date(now))
