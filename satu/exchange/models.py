"""Exchange tables: members' keys, subsystems, services, access rights, mandates, the
transparency log, signature nonces, and publish/subscribe.

Members are agencies of the agency registry (satudata), named the X-Road way by
`member_class` + `member_code`; we keep those strings (and the agency id) rather than a foreign
key into another domain's table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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

# --- Registry ----------------------------------------------------------------------------------


class Subsystem(Base):
    """A member's information system: the unit that calls and provides services."""

    __tablename__ = "exchange_subsystem"
    __table_args__ = (UniqueConstraint("member_class", "member_code", "subsystem_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_class: Mapped[str] = mapped_column(String(16))
    member_code: Mapped[str] = mapped_column(String(64))
    subsystem_code: Mapped[str] = mapped_column(String(64))
    # The agency (satudata agency id) the member is; one agency is one member.
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # The OIDC client (identity domain) this subsystem authenticates as (client_credentials).
    client_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    # Whether its requests to the gateway must carry an RFC 9421 signature by one of its keys.
    require_signature: Mapped[bool] = mapped_column(Boolean, default=False)
    # Requests per minute this subsystem may send through the gateway (0: the default).
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemberKey(Base):
    """An Ed25519 key of a member (or one subsystem) for HTTP Message Signatures.

    `hosted` keys are held by the gateway (encrypted private part) and sign on the member's
    behalf, like an X-Road security server; other keys are the public half of a key the member's
    own system holds (a provider backend signing its answers, a consumer signing its requests).
    """

    __tablename__ = "exchange_member_key"

    key_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    member_class: Mapped[str] = mapped_column(String(16))
    member_code: Mapped[str] = mapped_column(String(64))
    subsystem_id: Mapped[int | None] = mapped_column(
        ForeignKey("exchange_subsystem.id", ondelete="CASCADE"), index=True
    )
    algorithm: Mapped[str] = mapped_column(String(20), default="ed25519")
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    private_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    hosted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_exchange_member_key_member", "member_class", "member_code"),)


class ExchangeService(Base):
    """A service a subsystem provides: its backend, OpenAPI description and exposed operations."""

    __tablename__ = "exchange_service"
    __table_args__ = (UniqueConstraint("subsystem_id", "service_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subsystem_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_subsystem.id", ondelete="CASCADE"), index=True
    )
    service_code: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), default="")
    base_url: Mapped[str] = mapped_column(String(500))
    # The OpenAPI 3 document of the backend (as JSON), served by getOpenAPI.
    openapi: Mapped[dict | None] = mapped_column(JSON)
    # Exposed operations: [{"method": "GET", "path": "/persons/{nik}", "operation_id": ...}];
    # empty means every operation of the OpenAPI document.
    operations: Mapped[list] = mapped_column(JSON, default=list)
    # Whether calls concern a resident: then X-Road-UserId (NIK) and a lawful basis are required.
    personal_data: Mapped[bool] = mapped_column(Boolean, default=True)
    timeout_ms: Mapped[int] = mapped_column(Integer, default=10_000)
    max_body_bytes: Mapped[int] = mapped_column(Integer, default=1_048_576)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccessRight(Base):
    """Consumer subsystem `client_id` may call `service_id` (one operation, or all when null)."""

    __tablename__ = "exchange_access_right"
    __table_args__ = (UniqueConstraint("service_id", "client_subsystem_id", "operation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_service.id", ondelete="CASCADE"), index=True
    )
    client_subsystem_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_subsystem.id", ondelete="CASCADE"), index=True
    )
    # "GET /persons/{nik}" style, or null for every exposed operation.
    operation: Mapped[str | None] = mapped_column(String(300))
    granted_by: Mapped[str] = mapped_column(String(100), default="")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Mandate(Base):
    """A legal mandate: a consumer member may obtain a service's personal data for a purpose
    without the resident's consent, because a law says so (cited in `legal_basis`)."""

    __tablename__ = "exchange_mandate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_service.id", ondelete="CASCADE"), index=True
    )
    client_member_class: Mapped[str] = mapped_column(String(16))
    client_member_code: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(100))
    legal_basis: Mapped[str] = mapped_column(String(500))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- Transparency log ----------------------------------------------------------------------------


class LogEntry(Base):
    """One leaf of the append-only Merkle log (RFC 9162 hashing): an exchange or event.

    `entry` holds the canonical JSON bytes that were hashed (`leaf_hash` = SHA-256(0x00 || entry));
    the other columns repeat fields of it for queries. Rows are never updated or deleted.
    """

    __tablename__ = "exchange_log_entry"
    __table_args__ = (
        Index("ix_exchange_log_entry_subject_time", "subject_key", "logged_at"),
        Index("ix_exchange_log_entry_client_time", "client_id", "logged_at"),
        Index("ix_exchange_log_entry_service_time", "service_id", "logged_at"),
    )

    idx: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(20), default="exchange")
    transaction_id: Mapped[str] = mapped_column(String(100), index=True)
    client_id: Mapped[str] = mapped_column(String(300))
    service_id: Mapped[str] = mapped_column(String(400))
    # Keyed hash of the data subject's NIK (never the NIK itself), for the data tracker.
    subject_key: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(100), default="")


class LogNode(Base):
    """A stored hash of a complete subtree: leaves [idx * 2**level, (idx + 1) * 2**level).

    Level 0 (the leaves) lives in `exchange_log_entry`; these rows (level >= 1) are derived
    and let roots and proofs be computed with O(log n) reads. `audit` re-derives them.
    """

    __tablename__ = "exchange_log_node"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeHead(Base):
    """A signed tree head: the log's size and root hash at a time, signed by the exchange key."""

    __tablename__ = "exchange_tree_head"

    tree_size: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(100))
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class SeenNonce(Base):
    """A signature nonce already accepted, kept until its signature could no longer be fresh."""

    __tablename__ = "exchange_seen_nonce"

    key_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- Publish / subscribe -----------------------------------------------------------------------


class EventType(Base):
    """An event type a publisher subsystem emits (e.g. `birth-registered`), with its schema."""

    __tablename__ = "exchange_event_type"
    __table_args__ = (UniqueConstraint("publisher_subsystem_id", "event_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    publisher_subsystem_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_subsystem.id", ondelete="CASCADE"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    schema: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscription(Base):
    """A subscriber subsystem's subscription to an event type: push to a URL, or pull."""

    __tablename__ = "exchange_subscription"
    __table_args__ = (UniqueConstraint("event_type_id", "subscriber_subsystem_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_event_type.id", ondelete="CASCADE"), index=True
    )
    subscriber_subsystem_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_subsystem.id", ondelete="CASCADE"), index=True
    )
    mode: Mapped[str] = mapped_column(String(10))  # "push" | "pull"
    push_url: Mapped[str | None] = mapped_column(String(500))
    # GovStack SubscriptionItem options: {"TTL": seconds an event stays deliverable, "FIFO": bool}.
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    # The purpose the subscriber stated (X-Road-Purpose when subscribing); '' when none. A legal
    # mandate lets a resident's event through only for this purpose; without one, only consent.
    purpose: Mapped[str] = mapped_column(String(100), default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """One published event; its payload is kept for pull and retries."""

    __tablename__ = "exchange_event"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_event_type.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict] = mapped_column(JSON)
    subject_key: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    log_index: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class Delivery(Base):
    """An event's delivery to one subscription: pending, delivered (or pulled), or dead."""

    __tablename__ = "exchange_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id"),
        Index("ix_exchange_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("exchange_event.id", ondelete="CASCADE"))
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("exchange_subscription.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
