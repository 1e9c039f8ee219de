"""The workflow's shared rules: the transition table, text checks, the event record, who may act.

States: unverified -> dispositioned -> in_process -> done, plus postponed and archived.
Every transition is checked against the table below and recorded as an event (`_record`,
which also publishes the change and tells the reporter of public steps). The visibility
helpers load a case only for an officer who may see it and check who may act on it. The
other `workflow_*` modules build on these; callers use them through `workflow`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from satu.complaints import visibility
from satu.complaints.models import Event, Report
from satu.complaints.notify import tell_reporter
from satu.complaints.schemas import Officer
from satu.core.errors import Problem
from satu.core.events import publish

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
