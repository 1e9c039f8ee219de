"""What the complaints domain accepts and returns (never ORM objects)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ReportKind = Literal["complaint", "aspiration", "information", "whistleblowing"]
Status = Literal["unverified", "dispositioned", "in_process", "done", "postponed", "archived"]
KINDS: tuple[str, ...] = ("complaint", "aspiration", "information", "whistleblowing")
STATUSES: tuple[str, ...] = (
    "unverified",
    "dispositioned",
    "in_process",
    "done",
    "postponed",
    "archived",
)


class CategoryOut(BaseModel):
    """A complaint category."""

    code: str
    name: str
    name_en: str
    ministry_id: str | None = None


class ServiceOut(BaseModel):
    """A service people can report a problem with."""

    code: str
    name: str
    name_en: str
    description: str = ""
    category_code: str
    level: str
    agency_ref: str
    keywords: str = ""


class ReportIn(BaseModel):
    """A new report, from the form, the JSON API or a gateway."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: ReportKind = "complaint"
    title: str = Field(min_length=5, max_length=150)
    body: str = Field(min_length=20, max_length=5000)
    service_code: str = Field(min_length=1, max_length=60)
    category_code: str | None = Field(None, max_length=40)
    case_ref: str | None = Field(None, max_length=100)
    region_code: str | None = Field(None, max_length=13)
    latitude: float | None = Field(None, ge=-11.5, le=6.5)
    longitude: float | None = Field(None, ge=94.5, le=141.5)
    address: str | None = Field(None, max_length=300)
    anonymous: bool = False
    confidential: bool = False
    reporter_name: str | None = Field(None, max_length=200)
    reporter_email: str | None = Field(
        None, max_length=254, pattern=r"^[^@\s<>\"]+@[^@\s<>\"]+\.[A-Za-z]{2,}$"
    )
    reporter_phone: str | None = Field(None, pattern=r"^\+?[0-9]{8,15}$")

    @field_validator("latitude", "longitude")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and value != value:  # NaN
            raise ValueError("must be a number")
        return value


class Reporter(BaseModel):
    """Who files a report, as the edge knows them (never shown when anonymous)."""

    account_id: str | None = None
    channel: str = "web"
    api_client: str | None = None
    ip: str | None = None


class EventOut(BaseModel):
    """One step of a report's history."""

    at: datetime
    actor_kind: str
    action: str
    from_status: str | None
    to_status: str | None
    agency_id: str | None
    agency_name: str | None = None
    public: bool
    body: str


class AttachmentOut(BaseModel):
    """An attachment's description (content is fetched separately)."""

    id: int
    filename: str
    content_type: str
    size: int


class PublicReport(BaseModel):
    """What anyone may see of a non-confidential report: personal data redacted."""

    number: str
    kind: str
    title: str
    body: str
    service_code: str
    service_name: str
    category_code: str
    category_name: str
    region_code: str | None
    region_name: str | None = None
    status: str
    agency_id: str | None
    agency_name: str | None = None
    reporter: str
    created_at: datetime
    updated_at: datetime
    supporters: int
    rating: int | None
    duplicate_of: str | None = None
    events: list[EventOut] = []


class FiledReport(BaseModel):
    """The answer to a reporter who has just filed: tracking number and secret token."""

    id: int
    number: str
    token: str
    status: str
    agency_id: str | None
    needs_verifier: bool
    duplicate_of: str | None
    confidential: bool
    anonymous: bool


class Preview(BaseModel):
    """What will be public once the report is filed, and who sees the reporter's identity."""

    public: bool
    identity_visible_to_agency: bool
    identity_public: bool
    public_view: PublicReport | None
    notes: list[str]


class CaseOut(BaseModel):
    """A case as an officer sees it: full history, identity only when not anonymous."""

    id: int
    number: str
    kind: str
    channel: str
    title: str
    body: str
    service_code: str
    service_name: str
    category_code: str
    case_ref: str | None
    region_code: str | None
    region_name: str | None = None
    latitude: float | None
    longitude: float | None
    address: str | None
    anonymous: bool
    confidential: bool
    reporter_name: str | None
    reporter_email: str | None
    reporter_phone: str | None
    status: str
    agency_id: str | None
    agency_name: str | None = None
    escalation_level: int
    escalated_to: str | None
    assignee_id: str | None = None
    assignee_name: str | None = None
    suggested_category: str | None
    suggested_service: str | None
    suggestion_confidence: float | None
    routing_note: str
    duplicate_of: str | None
    duplicates: list[str] = []
    supporters: int
    rating: int | None
    reopened: bool
    archive_reason: str | None
    created_at: datetime
    verify_due: date | None
    followup_due: date | None
    settle_due: date | None
    autoclose_due: date | None
    overdue: bool = False
    attachments: list[AttachmentOut] = []
    events: list[EventOut] = []


class CaseSummary(BaseModel):
    """One row of a queue."""

    id: int
    number: str
    kind: str
    title: str
    service_code: str
    region_code: str | None
    status: str
    agency_id: str | None
    escalation_level: int
    assignee_id: str | None = None
    created_at: datetime
    due: date | None
    overdue: bool
    needs_verifier: bool


class Page(BaseModel):
    """A page of queue rows."""

    items: list[CaseSummary]
    total: int
    limit: int
    offset: int


class Officer(BaseModel):
    """Who acts on a case: an account, the agency it acts for, and its rights.

    `verifier`: may verify, postpone and archive (its agency's cases, or every case when
    `national`). `national`: the national view of every case, only for a verifier at the
    platform agency or an admin (see `service.officer_for`).
    """

    account_id: str
    agency_id: str | None
    verifier: bool = False
    national: bool = False


class Suggestion(BaseModel):
    """The classifier's guess for a text."""

    category_code: str
    service_code: str
    confidence: float
