"""Admin JSON API of the exchange registry: subsystems, services, access rights, mandates, keys.

Administrators manage everything; an agency's officers manage their agency's subsystems and
services and grant rights to call them (see `edge.py`). Mandates need an administrator.
`GET /api/v1/exchange/keys` publishes every member key as a JWKS, for anyone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from satu.core.auth import public
from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.exchange import keys, registry
from satu.exchange.edge import exchange_admin, exchange_manager
from satu.exchange.schemas import (
    AccessRightInfo,
    Actor,
    KeyInfo,
    MandateInfo,
    OperationInfo,
    ServiceInfo,
    SubsystemInfo,
)

router = APIRouter(prefix="/api/v1/exchange", tags=["exchange"])
Manager = Annotated[Actor, Depends(exchange_manager)]
Admin = Annotated[Actor, Depends(exchange_admin)]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=registry.CODE_PATTERN)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubsystemIn(_In):
    """A subsystem to register for an agency of the agency registry."""

    agency_id: str = Field(min_length=1, max_length=64)
    subsystem_code: Code
    name: str = Field("", max_length=200)
    client_id: str | None = Field(None, max_length=100)
    require_signature: bool = False
    rate_limit_per_minute: int = Field(0, ge=0, le=1_000_000)


class SubsystemPatch(_In):
    """Changes to a subsystem (`client_id: null` unlinks its OIDC client)."""

    name: str | None = Field(None, min_length=1, max_length=200)
    client_id: str | None = Field(None, max_length=100)
    require_signature: bool | None = None
    rate_limit_per_minute: int | None = Field(None, ge=0, le=1_000_000)
    enabled: bool | None = None


class ServiceIn(_In):
    """A service to register: backend base URL, OpenAPI 3 document, exposed operations."""

    subsystem_id: int = Field(ge=1, le=2**31 - 1)
    service_code: str = Field(min_length=1, max_length=100)
    base_url: str = Field(min_length=1, max_length=500)
    openapi: dict[str, Any]
    operations: list[str] | None = Field(None, max_length=500)
    title: str = Field("", max_length=200)
    personal_data: bool = True
    timeout_ms: int = Field(10_000, ge=100, le=120_000)
    max_body_bytes: int = Field(1_048_576, ge=0, le=100 * 1024 * 1024)


class ServicePatch(_In):
    """Changes to a service."""

    base_url: str | None = Field(None, min_length=1, max_length=500)
    openapi: dict[str, Any] | None = None
    operations: list[str] | None = Field(None, max_length=500)
    title: str | None = Field(None, max_length=200)
    personal_data: bool | None = None
    timeout_ms: int | None = Field(None, ge=100, le=120_000)
    max_body_bytes: int | None = Field(None, ge=0, le=100 * 1024 * 1024)
    enabled: bool | None = None


class ServiceOut(BaseModel):
    """A registered service with its X-Road identifier."""

    id: int
    xroad_id: str
    provider: SubsystemInfo
    service_code: str
    title: str
    base_url: str
    operations: list[OperationInfo]
    personal_data: bool
    timeout_ms: int
    max_body_bytes: int
    enabled: bool

    @classmethod
    def of(cls, info: ServiceInfo) -> ServiceOut:
        return cls(xroad_id=info.xroad_id, **info.model_dump())


class SubsystemOut(BaseModel):
    """A registered subsystem with its X-Road identifier."""

    id: int
    xroad_id: str
    instance: str
    member_class: str
    member_code: str
    subsystem_code: str
    agency_id: str
    name: str
    client_id: str | None
    require_signature: bool
    rate_limit_per_minute: int
    enabled: bool

    @classmethod
    def of(cls, info: SubsystemInfo) -> SubsystemOut:
        return cls(xroad_id=info.xroad_id, **info.model_dump())


class RightIn(_In):
    """A right for a consumer subsystem to call a service (one operation, or all)."""

    service_id: int = Field(ge=1, le=2**31 - 1)
    client_subsystem_id: int = Field(ge=1, le=2**31 - 1)
    operation: str | None = Field(None, max_length=320, examples=["GET /persons/{nik}"])


class MandateIn(_In):
    """A legal mandate: the client agency may obtain the service's data for a purpose."""

    service_id: int = Field(ge=1, le=2**31 - 1)
    client_agency_id: str = Field(min_length=1, max_length=64)
    purpose: str = Field(min_length=1, max_length=100)
    legal_basis: str = Field(min_length=1, max_length=500)
    valid_from: datetime | None = None
    valid_until: datetime | None = None


class KeyIn(_In):
    """The public half of an Ed25519 key held by a member's own system."""

    subsystem_id: int = Field(ge=1, le=2**31 - 1)
    public_key: str = Field(
        min_length=1, max_length=4096, description="base64url of the raw 32 bytes, or PEM"
    )
    key_id: str | None = Field(None, max_length=100, pattern=keys.KEY_ID_PATTERN)
    whole_member: bool = Field(False, description="the key speaks for every subsystem")


class KeyOut(BaseModel):
    """A member key (public part only)."""

    key_id: str
    member_class: str
    member_code: str
    subsystem_id: int | None
    algorithm: str
    hosted: bool
    revoked: bool
    jwk: dict[str, Any]

    @classmethod
    def of(cls, info: KeyInfo) -> KeyOut:
        data = info.model_dump(exclude={"public_key"})
        return cls(**data, jwk=keys.jwk_of(info))


def _visible(actor: Actor, agency_id: str | None) -> str | None:
    """The agency filter an actor's listing gets: officers see only their agencies."""
    if actor.is_admin:
        return agency_id
    if agency_id is None:
        if len(actor.agency_ids) == 1:
            return actor.agency_ids[0]
        raise Problem("validation-error", "Give ?agency_id= (one of your agencies).")
    if agency_id not in actor.agency_ids:
        raise Problem("forbidden", "You may list only your agencies' registrations.")
    return agency_id


def _subsystem(session: DbSession, actor: Actor, subsystem_id: int) -> SubsystemInfo:
    info = registry.get_subsystem(session=session, subsystem_id=subsystem_id)
    if info is None or not actor.may_manage(info.agency_id):
        raise Problem("not-found", "No such subsystem.")
    return info


def _service(session: DbSession, actor: Actor, service_id: int) -> ServiceInfo:
    info = registry.get_service(session=session, service_id=service_id)
    if info is None or not actor.may_manage(info.provider.agency_id):
        raise Problem("not-found", "No such service.")
    return info


# --- keys (JWKS) -------------------------------------------------------------------------------


@router.get("/keys", dependencies=[Depends(public)], summary="Member keys (JWKS)")
def published_keys(session: DbSession) -> JSONResponse:
    """Every non-revoked member key as a JSON Web Key Set (OKP/Ed25519, with member hints)."""
    return JSONResponse(
        keys.jwks(session=session),
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=60"},
    )


@router.post("/keys", status_code=201)
def register_key(data: KeyIn, session: DbSession, actor: Manager) -> KeyOut:
    """Register the public key of a subsystem's own system (for its signatures)."""
    _subsystem(session, actor, data.subsystem_id)
    return KeyOut.of(
        keys.add_member_key(
            session=session,
            actor=actor,
            subsystem_id=data.subsystem_id,
            public_key=keys.decode_public_key(data.public_key),
            key_id=data.key_id,
            whole_member=data.whole_member,
        )
    )


@router.get("/keys/{key_id}")
def get_key(
    key_id: Annotated[str, Path(max_length=100, pattern=keys.KEY_ID_PATTERN)],
    session: DbSession,
    actor: Manager,
) -> KeyOut:
    """One key, revoked or not."""
    info = keys.public_key(session=session, key_id=key_id)
    if info is None:
        raise Problem("not-found", "No such key.")
    return KeyOut.of(info)


@router.delete("/keys/{key_id}")
def revoke_key(
    key_id: Annotated[str, Path(max_length=100, pattern=keys.KEY_ID_PATTERN)],
    session: DbSession,
    actor: Manager,
) -> KeyOut:
    """Revoke a key: signatures by it are refused and it leaves the JWKS."""
    return KeyOut.of(keys.revoke_key(session=session, actor=actor, key_id=key_id))


# --- subsystems --------------------------------------------------------------------------------


@router.get("/subsystems")
def subsystems(
    session: DbSession,
    actor: Manager,
    agency_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[SubsystemOut]:
    """Registered subsystems (an officer's own agencies only)."""
    agency = _visible(actor, agency_id)
    return [SubsystemOut.of(s) for s in registry.list_subsystems(session=session, agency_id=agency)]


@router.post("/subsystems", status_code=201)
def add_subsystem(data: SubsystemIn, session: DbSession, actor: Manager) -> SubsystemOut:
    """Register an information system of an agency (member class/code come from the agency)."""
    return SubsystemOut.of(
        registry.register_subsystem(session=session, actor=actor, **data.model_dump())
    )


@router.get("/subsystems/{subsystem_id}")
def get_subsystem(subsystem_id: Id, session: DbSession, actor: Manager) -> SubsystemOut:
    """One subsystem."""
    return SubsystemOut.of(_subsystem(session, actor, subsystem_id))


@router.patch("/subsystems/{subsystem_id}")
def change_subsystem(
    subsystem_id: Id, data: SubsystemPatch, session: DbSession, actor: Manager
) -> SubsystemOut:
    """Change a subsystem; `client_id` links (or with null unlinks) its OIDC client."""
    _subsystem(session, actor, subsystem_id)
    given = data.model_dump(exclude_unset=True)
    info = None
    if "client_id" in given:
        info = registry.set_subsystem_client(
            session=session, actor=actor, subsystem_id=subsystem_id, client_id=given["client_id"]
        )
    rest = {k: v for k, v in given.items() if k != "client_id" and v is not None}
    if rest or info is None:
        info = registry.update_subsystem(
            session=session, actor=actor, subsystem_id=subsystem_id, **rest
        )
    return SubsystemOut.of(info)


# --- services ----------------------------------------------------------------------------------


@router.get("/services")
def services(
    session: DbSession,
    actor: Manager,
    agency_id: Annotated[str | None, Query(max_length=64)] = None,
    subsystem_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[ServiceOut]:
    """Registered services (an officer's own agencies only)."""
    agency = _visible(actor, agency_id)
    return [
        ServiceOut.of(s)
        for s in registry.list_services(
            session=session, agency_id=agency, subsystem_id=subsystem_id
        )
    ]


@router.post("/services", status_code=201)
def add_service(data: ServiceIn, session: DbSession, actor: Manager) -> ServiceOut:
    """Register a service of a subsystem: base URL, OpenAPI 3 document, exposed operations."""
    return ServiceOut.of(
        registry.register_service(session=session, actor=actor, **data.model_dump())
    )


@router.get("/services/{service_id}")
def get_service(service_id: Id, session: DbSession, actor: Manager) -> ServiceOut:
    """One service."""
    return ServiceOut.of(_service(session, actor, service_id))


@router.get("/services/{service_id}/openapi")
def get_service_openapi(service_id: Id, session: DbSession, actor: Manager) -> dict[str, Any]:
    """The OpenAPI document the service was registered with."""
    _service(session, actor, service_id)
    return registry.get_openapi(session=session, service_id=service_id) or {}


@router.patch("/services/{service_id}")
def change_service(
    service_id: Id, data: ServicePatch, session: DbSession, actor: Manager
) -> ServiceOut:
    """Change a service (a new document or operation list is checked again)."""
    _service(session, actor, service_id)
    given = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    return ServiceOut.of(
        registry.update_service(session=session, actor=actor, service_id=service_id, **given)
    )


# --- access rights -----------------------------------------------------------------------------


@router.get("/rights")
def rights(
    session: DbSession,
    actor: Manager,
    service_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    client_subsystem_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    agency_id: Annotated[str | None, Query(max_length=64)] = None,
    after_id: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AccessRightInfo]:
    """Access rights to services (an officer's: to their agencies' services)."""
    if service_id is not None:
        _service(session, actor, service_id)
        agency = None
    else:
        agency = _visible(actor, agency_id)
    return registry.list_rights(
        session=session,
        service_id=service_id,
        client_subsystem_id=client_subsystem_id,
        agency_id=agency,
        after_id=after_id,
        limit=limit,
    )


@router.post("/rights", status_code=201)
def grant(data: RightIn, session: DbSession, actor: Manager) -> AccessRightInfo:
    """Let a consumer subsystem call a service (or one of its operations)."""
    _service(session, actor, data.service_id)
    return registry.grant_access(session=session, actor=actor, **data.model_dump())


@router.delete("/rights/{right_id}")
def revoke(right_id: Id, session: DbSession, actor: Manager) -> AccessRightInfo:
    """Take an access right away."""
    return registry.revoke_access(session=session, actor=actor, right_id=right_id)


# --- mandates ----------------------------------------------------------------------------------


@router.get("/mandates")
def mandates(
    session: DbSession,
    actor: Manager,
    service_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    current: bool = False,
) -> list[MandateInfo]:
    """Legal mandates (officers: of their agencies' services)."""
    if service_id is not None:
        _service(session, actor, service_id)
    elif not actor.is_admin:
        raise Problem("validation-error", "Give ?service_id= (one of your agency's services).")
    return registry.list_mandates(session=session, service_id=service_id, current_only=current)


@router.post("/mandates", status_code=201)
def add_mandate(data: MandateIn, session: DbSession, actor: Admin) -> MandateInfo:
    """Register a legal mandate (administrators only)."""
    return registry.add_mandate(session=session, actor=actor, **data.model_dump())


@router.delete("/mandates/{mandate_id}")
def end_mandate(mandate_id: Id, session: DbSession, actor: Admin) -> MandateInfo:
    """End a mandate now (administrators only); it stays on record."""
    return registry.end_mandate(session=session, actor=actor, mandate_id=mandate_id)
