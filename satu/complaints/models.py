"""Complaint tables: service catalogue, routing rules, reports, their history and attachments."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from satu.core.db import Base, UTCDateTime, utcnow


class Category(Base):
    """A complaint category (topic), with the ministry that supervises it nationally."""

    __tablename__ = "complaints_category"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    ministry_id: Mapped[str | None] = mapped_column(String(64))
    sort: Mapped[int] = mapped_column(Integer, default=0)


class Service(Base):
    """A public service people complain about; the portal's catalogue will link to its code."""

    __tablename__ = "complaints_service"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category_code: Mapped[str] = mapped_column(
        String(40), ForeignKey("complaints_category.code"), index=True
    )
    # national: agency_ref is an agency id; province/regency: the local government, or one of
    # its units when agency_ref names a unit suffix such as "disdukcapil".
    level: Mapped[str] = mapped_column(String(16))
    agency_ref: Mapped[str] = mapped_column(String(64), default="")
    keywords: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RoutingRule(Base):
    """An explicit override: reports matching category/service/region prefix go to an agency."""

    __tablename__ = "complaints_routing_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category_code: Mapped[str | None] = mapped_column(String(40))
    service_code: Mapped[str | None] = mapped_column(String(60))
    region_prefix: Mapped[str | None] = mapped_column(String(13))
    agency_id: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Report(Base):
    """One report (complaint, aspiration, information request or whistle-blowing)."""

    __tablename__ = "complaints_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    service_code: Mapped[str] = mapped_column(
        String(60), ForeignKey("complaints_service.code"), index=True
    )
    category_code: Mapped[str] = mapped_column(String(40), ForeignKey("complaints_category.code"))
    case_ref: Mapped[str | None] = mapped_column(String(100))
    region_code: Mapped[str | None] = mapped_column(String(13))
    province_code: Mapped[str | None] = mapped_column(String(2))
    regency_code: Mapped[str | None] = mapped_column(String(5))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter_account_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reporter_name: Mapped[str | None] = mapped_column(String(200))
    reporter_email: Mapped[str | None] = mapped_column(String(254))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    api_client: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    agency_id: Mapped[str | None] = mapped_column(String(64))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_to: Mapped[str | None] = mapped_column(String(64), index=True)
    # The officer (identity account id) of the current agency handling the case, if any.
    assignee_id: Mapped[str | None] = mapped_column(String(64), index=True)
    suggested_category: Mapped[str | None] = mapped_column(String(40))
    suggested_service: Mapped[str | None] = mapped_column(String(60))
    suggestion_confidence: Mapped[float | None] = mapped_column(Float)
    routing_note: Mapped[str] = mapped_column(String(300), default="")
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints_report.id"), index=True
    )
    supporters: Mapped[int] = mapped_column(Integer, default=0)
    archive_reason: Mapped[str | None] = mapped_column(String(300))
    rating: Mapped[int | None] = mapped_column(Integer)
    reopened: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verify_due: Mapped[date | None] = mapped_column(Date)
    followup_due: Mapped[date | None] = mapped_column(Date)
    settle_due: Mapped[date | None] = mapped_column(Date)
    autoclose_due: Mapped[date | None] = mapped_column(Date)
    on_time: Mapped[bool | None] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_complaints_report_agency_status", "agency_id", "status"),
        Index("ix_complaints_report_status_created", "status", "created_at"),
        Index("ix_complaints_report_created", "created_at"),
        Index("ix_complaints_report_dup", "service_code", "region_code", "fingerprint"),
    )


class Event(Base):
    """One step in a report's history: an action, a reply or an internal note."""

    __tablename__ = "complaints_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("complaints_report.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    agency_id: Mapped[str | None] = mapped_column(String(64))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict | None] = mapped_column(JSON)


class Attachment(Base):
    """A file attached to a report, checked by content and stripped of metadata."""

    __tablename__ = "complaints_attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("complaints_report.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Support(Base):
    """A "me too" on an existing report, at most one per person."""

    __tablename__ = "complaints_support"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("complaints_report.id"))
    supporter: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("report_id", "supporter"),)


class ApiKey(Base):
    """An Open311 / gateway client allowed to submit reports (only a hash is kept)."""

    __tablename__ = "complaints_api_key"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    channel: Mapped[str] = mapped_column(String(16), default="open311")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReplyTemplate(Base):
    """A canned public reply an agency (or every agency, when agency_id is empty) may use."""

    __tablename__ = "complaints_reply_template"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_id: Mapped[str | None] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
