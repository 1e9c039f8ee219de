"""Identity tables: residents (the population register), accounts, sessions, officers, audit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from satu.core.db import Base, UTCDateTime, utcnow


class Resident(Base):
    """A person in the population register, keyed by NIK (the Dukcapil role)."""

    __tablename__ = "identity_resident"

    nik: Mapped[str] = mapped_column(String(16), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    birth_place: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    address_line: Mapped[str] = mapped_column(String(300), default="")
    rt: Mapped[str | None] = mapped_column(String(3))
    rw: Mapped[str | None] = mapped_column(String(3))
    village_code: Mapped[str] = mapped_column(
        String(13), ForeignKey("satudata_region.code"), index=True
    )
    kk_number: Mapped[str] = mapped_column(String(16), index=True)
    family_relation: Mapped[str] = mapped_column(String(16), default="head")
    father_nik: Mapped[str | None] = mapped_column(String(16))
    mother_nik: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(10), default="alive")
    died_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Account(Base):
    """A resident's sign-in account: one per resident."""

    __tablename__ = "identity_account"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    resident_nik: Mapped[str] = mapped_column(
        String(16), ForeignKey("identity_resident.nik"), unique=True
    )
    password_hash: Mapped[str] = mapped_column(String(256))
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginSession(Base):
    """A browser sign-in; the cookie holds a secret whose SHA-256 is `token_hash`."""

    __tablename__ = "identity_login_session"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identity_account.id"), index=True
    )
    stage: Mapped[str] = mapped_column(String(16), default="active")
    acr: Mapped[str] = mapped_column(String(40))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class Throttle(Base):
    """Failure counter with exponential back-off for one key (a NIK digest or an IP)."""

    __tablename__ = "identity_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VerificationCode(Base):
    """A one-time code sent to a resident's contact (activation, password reset)."""

    __tablename__ = "identity_verification_code"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    nik: Mapped[str] = mapped_column(String(16), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RoleGrant(Base):
    """A role held by an account: agency-scoped (officer, verifier, agency_admin) or global."""

    __tablename__ = "identity_role_grant"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identity_account.id"), index=True
    )
    role: Mapped[str] = mapped_column(String(24))
    agency_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("satudata_agency.id"), index=True
    )
    granted_by: Mapped[str | None] = mapped_column(String(80))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("account_id", "role", "agency_id"),)


class AuditEvent(Base):
    """Who did what, when, from where: sign-ins, failures, consents, tokens, admin actions."""

    __tablename__ = "identity_audit_event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_identity_audit_event_actor_at", "actor", "at"),
        Index("ix_identity_audit_event_action_at", "action", "at"),
        Index("ix_identity_audit_event_target", "target"),
    )
