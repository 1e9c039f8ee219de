"""Officer actions as data, run against the workflow (shared by the API and the pages)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from satu.complaints import assignment, workflow
from satu.complaints.schemas import CaseOut, Officer
from satu.core.errors import Problem


class OfficerAction(BaseModel):
    """An officer's action on a case."""

    model_config = ConfigDict(extra="forbid")

    action: Literal[
        "verify",
        "postpone",
        "reroute",
        "archive",
        "merge",
        "follow_up",
        "forward",
        "hand_back",
        "answer",
        "note",
        "assign",
    ]
    agency_id: str | None = Field(None, max_length=64)
    category_code: str | None = Field(None, max_length=40)
    unit_id: str | None = Field(None, max_length=64)
    into_report_id: int | None = None
    assignee_id: str | None = Field(None, max_length=64)
    message: str | None = Field(None, max_length=5000)


def act(session: Session, officer: Officer, report_id: int, body: OfficerAction) -> CaseOut:
    """Run one officer action (shared by the API and the pages)."""
    text = body.message or ""
    common = {"session": session, "officer": officer, "report_id": report_id}
    match body.action:
        case "verify":
            return workflow.verify(
                **common, agency_id=body.agency_id, category_code=body.category_code
            )
        case "postpone":
            return workflow.postpone(**common, message=text)
        case "reroute":
            return workflow.reroute(**common, agency_id=body.agency_id or "", reason=text)
        case "archive":
            return workflow.archive(**common, reason=text)
        case "merge":
            if body.into_report_id is None:
                raise Problem("validation-error", "into_report_id: required")
            return workflow.merge(**common, into_report_id=body.into_report_id)
        case "follow_up":
            return workflow.follow_up(**common, message=text)
        case "forward":
            return workflow.forward(**common, unit_id=body.unit_id or "", note=text)
        case "hand_back":
            return workflow.hand_back(**common, reason=text)
        case "answer":
            return workflow.answer(**common, message=text)
        case "assign":
            return assignment.assign(**common, assignee_id=body.assignee_id)
        case _:
            return workflow.note(**common, message=text)
