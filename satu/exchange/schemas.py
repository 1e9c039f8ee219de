"""Exchange schemas shared by the registry, gateway, log, pub/sub and data tracker.

These are the contracts between the exchange's modules (and what templates receive);
ORM objects never leave the module that loaded them.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field


class SubsystemInfo(BaseModel):
    """A registered subsystem, as the gateway and metaservices need it."""

    model_config = ConfigDict(frozen=True)

    id: int
    instance: str
    member_class: str
    member_code: str
    subsystem_code: str
    agency_id: str
    name: str = ""
    client_id: str | None = None
    require_signature: bool = False
    rate_limit_per_minute: int = 0
    enabled: bool = True

    @cached_property
    def xroad_id(self) -> str:
        """`INSTANCE/CLASS/CODE/SUBSYSTEM` (parts percent-encoded)."""
        from satu.exchange.xroad import ClientId

        return str(
            ClientId(self.instance, self.member_class, self.member_code, self.subsystem_code)
        )


class OperationInfo(BaseModel):
    """One exposed operation of a service."""

    model_config = ConfigDict(frozen=True)

    method: str
    path: str
    operation_id: str | None = None


class ServiceInfo(BaseModel):
    """A registered service with its provider, as the gateway needs it."""

    model_config = ConfigDict(frozen=True)

    id: int
    provider: SubsystemInfo
    service_code: str
    title: str = ""
    base_url: str
    operations: list[OperationInfo] = Field(default_factory=list)
    personal_data: bool = True
    timeout_ms: int = 10_000
    max_body_bytes: int = 1_048_576
    enabled: bool = True

    @cached_property
    def xroad_id(self) -> str:
        """`INSTANCE/CLASS/CODE/SUBSYSTEM/SERVICE`."""
        from urllib.parse import quote

        return f"{self.provider.xroad_id}/{quote(self.service_code, safe='')}"


class MandateInfo(BaseModel):
    """A legal mandate that lets a consumer member obtain a service's personal data."""

    model_config = ConfigDict(frozen=True)

    id: int
    service_id: int
    client_member_class: str
    client_member_code: str
    purpose: str
    legal_basis: str
    valid_from: datetime
    valid_until: datetime | None = None


class KeyInfo(BaseModel):
    """A member's public signing key (Ed25519, raw 32 bytes)."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    member_class: str
    member_code: str
    subsystem_id: int | None = None
    algorithm: str = "ed25519"
    public_key: bytes
    hosted: bool = False
    revoked: bool = False


class LogRecordIn(BaseModel):
    """What the gateway (or pub/sub) appends to the transparency log for one exchange."""

    kind: str = "exchange"  # "exchange" | "event"
    logged_at: datetime
    transaction_id: str  # X-Road-Id
    request_id: str  # X-Road-Request-Id (the gateway's own id for this call)
    client_id: str  # consumer `INSTANCE/CLASS/CODE/SUB`
    client_agency_id: str
    service_id: str  # `INSTANCE/CLASS/CODE/SUB/SERVICE`
    provider_agency_id: str
    method: str = ""
    operation: str = ""  # the matched operation ("GET /persons/{nik}") or the path
    nik: str | None = None  # the data subject; the log stores only a keyed hash of it
    user_id: str | None = None  # the officer/end user on the consumer side, if given
    purpose: str = ""
    lawful_basis: str = ""  # "consent:<id>" | "mandate:<id>" | "" (no personal data)
    request_digest: str = ""  # RFC 9530 `sha-256=:...:`
    response_digest: str = ""
    status: int = 0  # HTTP status answered to the consumer
    outcome: str = "ok"  # "ok" or the X-Road error type


class LogReceipt(BaseModel):
    """Where an appended record sits in the log."""

    index: int
    leaf_hash: str  # hex


# --- Registry (helper R) -------------------------------------------------------------------


class Actor(BaseModel):
    """Who asks the registry to change something, and what they may manage.

    An exchange administrator (identity's global `admin` role, or the CLI) manages everything;
    an agency's officer (`agency_admin` or `officer` role) manages only that agency's
    subsystems, services, keys and the access rights to its services.
    """

    model_config = ConfigDict(frozen=True)

    name: str  # audit actor: `account:<id>`, `cli`, ...
    is_admin: bool = False
    agency_ids: tuple[str, ...] = ()
    ip: str | None = None

    @classmethod
    def system(cls, name: str = "cli") -> Actor:
        """A trusted operator (the `satu exchange` command, the demo)."""
        return cls(name=name, is_admin=True)

    def may_manage(self, agency_id: str) -> bool:
        """Whether this actor may manage the agency's exchange registrations."""
        return self.is_admin or agency_id in self.agency_ids


class AccessRightInfo(BaseModel):
    """A consumer subsystem's right to call a service (one operation, or every one)."""

    model_config = ConfigDict(frozen=True)

    id: int
    service_id: int
    service: str  # `INSTANCE/CLASS/CODE/SUB/SERVICE`
    client_subsystem_id: int
    client: str  # `INSTANCE/CLASS/CODE/SUB`
    operation: str | None = None  # "GET /persons/{nik}", or None for every exposed operation
    granted_by: str = ""
    granted_at: datetime
