"""The exchange registry: members' subsystems, their services, access rights and mandates.

Lookups (`resolve_client`, `resolve_service`, `match_operation`, `is_allowed`, `find_mandate`,
`allowed_services`) are what the gateway and metaservices call on every request. Verbs change
the registry: each checks that the actor may (an exchange administrator anything, an agency's
officer only that agency's subsystems and services) and writes an audit record.
Lookups return disabled subsystems and services too (`enabled=False`); `is_allowed` is False
whenever the client, the provider or the service is disabled.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from satu.core.config import get_settings
from satu.core.db import utcnow
from satu.core.errors import Problem
from satu.exchange.models import AccessRight, ExchangeService, Mandate, Subsystem
from satu.exchange.registry_openapi import find_operation, operation_label
from satu.exchange.schemas import (
    AccessRightInfo,
    Actor,
    MandateInfo,
    OperationInfo,
    ServiceInfo,
    SubsystemInfo,
)
from satu.exchange.xroad import ClientId, ServiceId
from satu.identity import service as identity
from satu.satudata import service as satudata

# Codes we accept when registering (stricter than what X-Road may parse).
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"
_CODE = re.compile(CODE_PATTERN)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")
MAX_LIST = 1000
# Pub/sub registers each event type as an internal service `event:{eventType}` of the publisher,
# so that access rights say who may subscribe. Such services are never called through `/r1` and
# are not part of the published service catalogue (metaservices, IM configuration).
EVENT_SERVICE_PREFIX = "event:"


def is_event_service(service_code: str) -> bool:
    """Whether a service code names pub/sub's internal subscription service of an event type."""
    return service_code.startswith(EVENT_SERVICE_PREFIX)


def _instance() -> str:
    return get_settings().exchange_instance


def _check_code(value: Any, what: str, longest: int = 64) -> str:
    if not isinstance(value, str) or not _CODE.match(value) or len(value) > longest:
        raise Problem(
            "validation-error",
            f"{what} must be 1-{longest} letters, digits, '.', '_' or '-', "
            "starting with a letter or digit.",
        )
    return value


def _check_text(value: Any, what: str, longest: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Problem("validation-error", f"{what} must be text.")
    value = value.strip()
    if required and not value:
        raise Problem("validation-error", f"{what} is required.")
    if len(value) > longest:
        raise Problem("validation-error", f"{what} is longer than {longest} characters.")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise Problem("validation-error", f"{what} contains control characters.")
    return value


def _audit(
    session: Session, actor: Actor, action: str, target: str, detail: dict[str, Any]
) -> None:
    identity.record_audit(
        session=session, actor=actor.name, action=action, target=target, ip=actor.ip, detail=detail
    )


def _require(actor: Actor, agency_id: str, what: str) -> None:
    if not actor.may_manage(agency_id):
        raise Problem("forbidden", f"Only the agency's officers or an administrator may {what}.")


def _require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise Problem("forbidden", f"Only an exchange administrator may {what}.")


# --- Projections -----------------------------------------------------------------------------


def subsystem_info(row: Subsystem) -> SubsystemInfo:
    """The public view of a subsystem row."""
    return SubsystemInfo(
        id=row.id,
        instance=_instance(),
        member_class=row.member_class,
        member_code=row.member_code,
        subsystem_code=row.subsystem_code,
        agency_id=row.agency_id,
        name=row.name or "",
        client_id=row.client_id,
        require_signature=bool(row.require_signature),
        rate_limit_per_minute=row.rate_limit_per_minute or 0,
        enabled=bool(row.enabled),
    )


def _operations_of(row: ExchangeService) -> list[OperationInfo]:
    return [OperationInfo(**op) for op in (row.operations or [])]


def service_info(row: ExchangeService, provider: Subsystem) -> ServiceInfo:
    """The public view of a service row with its provider."""
    return ServiceInfo(
        id=row.id,
        provider=subsystem_info(provider),
        service_code=row.service_code,
        title=row.title or "",
        base_url=row.base_url,
        operations=_operations_of(row),
        personal_data=bool(row.personal_data),
        timeout_ms=row.timeout_ms,
        max_body_bytes=row.max_body_bytes,
        enabled=bool(row.enabled),
    )


def _mandate_info(row: Mandate) -> MandateInfo:
    return MandateInfo(
        id=row.id,
        service_id=row.service_id,
        client_member_class=row.client_member_class,
        client_member_code=row.client_member_code,
        purpose=row.purpose,
        legal_basis=row.legal_basis,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


def _right_info(row: AccessRight, service: ServiceInfo, client: SubsystemInfo) -> AccessRightInfo:
    return AccessRightInfo(
        id=row.id,
        service_id=row.service_id,
        service=service.xroad_id,
        client_subsystem_id=row.client_subsystem_id,
        client=client.xroad_id,
        operation=row.operation,
        granted_by=row.granted_by,
        granted_at=row.granted_at,
    )


# --- Contract lookups ----------------------------------------------------------------------


def resolve_client(*, session: Session, client: ClientId) -> SubsystemInfo | None:
    """The subsystem an X-Road client identifier names (of this instance), or None."""
    if client.instance != _instance():
        return None
    row = session.scalar(
        select(Subsystem).where(
            Subsystem.member_class == client.member_class,
            Subsystem.member_code == client.member_code,
            Subsystem.subsystem_code == client.subsystem_code,
        )
    )
    return subsystem_info(row) if row is not None else None


def subsystem_for_client_id(*, session: Session, client_id: str) -> SubsystemInfo | None:
    """The subsystem that authenticates as this OIDC client, or None."""
    if not isinstance(client_id, str) or not client_id or len(client_id) > 100:
        return None
    row = session.scalar(select(Subsystem).where(Subsystem.client_id == client_id))
    return subsystem_info(row) if row is not None else None


def get_subsystem(*, session: Session, subsystem_id: int) -> SubsystemInfo | None:
    """A subsystem by its id, or None."""
    row = session.get(Subsystem, subsystem_id)
    return subsystem_info(row) if row is not None else None


def resolve_service(*, session: Session, service: ServiceId) -> ServiceInfo | None:
    """The service an X-Road service identifier names, or None (versions are not used)."""
    if service.service_version is not None:
        return None
    provider = resolve_client(session=session, client=service.provider)
    if provider is None:
        return None
    row = session.scalar(
        select(ExchangeService).where(
            ExchangeService.subsystem_id == provider.id,
            ExchangeService.service_code == service.service_code,
        )
    )
    if row is None:
        return None
    return service_info(row, session.get_one(Subsystem, provider.id))


def get_service(*, session: Session, service_id: int) -> ServiceInfo | None:
    """A service by its id, or None."""
    row = session.get(ExchangeService, service_id)
    if row is None:
        return None
    return service_info(row, session.get_one(Subsystem, row.subsystem_id))


def get_openapi(*, session: Session, service_id: int) -> dict[str, Any] | None:
    """The OpenAPI document a service was registered with."""
    row = session.get(ExchangeService, service_id)
    return row.openapi if row is not None else None


def match_operation(*, service: ServiceInfo, method: str, path: str) -> OperationInfo | None:
    """The exposed operation that `METHOD path` calls (OpenAPI path templates), or None."""
    return find_operation(list(service.operations), method, path)


def is_allowed(
    *,
    session: Session,
    client_subsystem_id: int,
    service_id: int,
    operation: OperationInfo | None,
) -> bool:
    """Whether the client may call the service's operation (None: needs a whole-service right)."""
    client = session.get(Subsystem, client_subsystem_id)
    row = session.get(ExchangeService, service_id)
    if client is None or row is None or not client.enabled or not row.enabled:
        return False
    provider = session.get(Subsystem, row.subsystem_id)
    if provider is None or not provider.enabled:
        return False
    labels: list[str] = []
    if operation is not None:
        exposed = {operation_label(op) for op in _operations_of(row)}
        label = operation_label(operation)
        if label not in exposed:
            return False
        labels.append(label)
    condition = AccessRight.operation.is_(None)
    if labels:
        condition = or_(condition, AccessRight.operation.in_(labels))
    found = session.scalar(
        select(AccessRight.id)
        .where(
            AccessRight.service_id == service_id,
            AccessRight.client_subsystem_id == client_subsystem_id,
            condition,
        )
        .limit(1)
    )
    return found is not None


def find_mandate(
    *,
    session: Session,
    service_id: int,
    client_member_class: str,
    client_member_code: str,
    purpose: str,
) -> MandateInfo | None:
    """A mandate in force now for this consumer member, service and purpose, or None."""
    now = utcnow()
    row = session.scalar(
        select(Mandate)
        .where(
            Mandate.service_id == service_id,
            Mandate.client_member_class == client_member_class,
            Mandate.client_member_code == client_member_code,
            Mandate.purpose == purpose,
            Mandate.valid_from <= now,
            or_(Mandate.valid_until.is_(None), Mandate.valid_until > now),
        )
        .order_by(Mandate.valid_from.desc(), Mandate.id.desc())
        .limit(1)
    )
    return _mandate_info(row) if row is not None else None


def allowed_services(*, session: Session, client_subsystem_id: int) -> list[ServiceInfo]:
    """The enabled services the client holds any access right to."""
    client = session.get(Subsystem, client_subsystem_id)
    if client is None or not client.enabled:
        return []
    rows = session.execute(
        select(ExchangeService, Subsystem)
        .join(Subsystem, Subsystem.id == ExchangeService.subsystem_id)
        .where(
            ExchangeService.enabled.is_(True),
            Subsystem.enabled.is_(True),
            ExchangeService.id.in_(
                select(AccessRight.service_id).where(
                    AccessRight.client_subsystem_id == client_subsystem_id
                )
            ),
        )
        .order_by(Subsystem.member_class, Subsystem.member_code, Subsystem.subsystem_code)
        .order_by(ExchangeService.service_code)
    ).all()
    return [service_info(service, provider) for service, provider in rows]


def allowed_operations(
    *, session: Session, client_subsystem_id: int, service: ServiceInfo
) -> list[OperationInfo]:
    """The operations of a service the client may call."""
    rights = session.scalars(
        select(AccessRight.operation).where(
            AccessRight.service_id == service.id,
            AccessRight.client_subsystem_id == client_subsystem_id,
        )
    ).all()
    if None in rights:
        return list(service.operations)
    return [op for op in service.operations if operation_label(op) in set(rights)]


# --- Lists -----------------------------------------------------------------------------------


def list_subsystems(
    *, session: Session, agency_id: str | None = None, enabled_only: bool = False
) -> list[SubsystemInfo]:
    """Subsystems (of one agency), ordered by their X-Road identifier."""
    query = select(Subsystem)
    if agency_id is not None:
        query = query.where(Subsystem.agency_id == agency_id)
    if enabled_only:
        query = query.where(Subsystem.enabled.is_(True))
    query = query.order_by(
        Subsystem.member_class, Subsystem.member_code, Subsystem.subsystem_code
    ).limit(MAX_LIST * 10)
    return [subsystem_info(row) for row in session.scalars(query)]


def list_services(
    *,
    session: Session,
    subsystem_id: int | None = None,
    agency_id: str | None = None,
    include_events: bool = True,
) -> list[ServiceInfo]:
    """Services (of one subsystem or agency), ordered by their X-Road identifier.

    `include_events=False` leaves out pub/sub's internal `event:*` services.
    """
    query = select(ExchangeService, Subsystem).join(
        Subsystem, Subsystem.id == ExchangeService.subsystem_id
    )
    if not include_events:
        query = query.where(ExchangeService.service_code.not_like(f"{EVENT_SERVICE_PREFIX}%"))
    if subsystem_id is not None:
        query = query.where(ExchangeService.subsystem_id == subsystem_id)
    if agency_id is not None:
        query = query.where(Subsystem.agency_id == agency_id)
    query = query.order_by(
        Subsystem.member_class,
        Subsystem.member_code,
        Subsystem.subsystem_code,
        ExchangeService.service_code,
    ).limit(MAX_LIST * 10)
    return [service_info(s, p) for s, p in session.execute(query).all()]


def list_rights(
    *,
    session: Session,
    service_id: int | None = None,
    client_subsystem_id: int | None = None,
    agency_id: str | None = None,
    after_id: int = 0,
    limit: int = MAX_LIST,
) -> list[AccessRightInfo]:
    """Access rights, by id, optionally of one service, client, or provider agency."""
    query = select(AccessRight).where(AccessRight.id > after_id)
    if service_id is not None:
        query = query.where(AccessRight.service_id == service_id)
    if client_subsystem_id is not None:
        query = query.where(AccessRight.client_subsystem_id == client_subsystem_id)
    if agency_id is not None:
        query = query.where(
            AccessRight.service_id.in_(
                select(ExchangeService.id)
                .join(Subsystem, Subsystem.id == ExchangeService.subsystem_id)
                .where(Subsystem.agency_id == agency_id)
            )
        )
    rows = session.scalars(query.order_by(AccessRight.id).limit(max(1, min(limit, MAX_LIST)))).all()
    services: dict[int, ServiceInfo] = {}
    clients: dict[int, SubsystemInfo] = {}
    out = []
    for row in rows:
        if row.service_id not in services:
            services[row.service_id] = get_service(session=session, service_id=row.service_id)  # type: ignore[assignment]
        if row.client_subsystem_id not in clients:
            clients[row.client_subsystem_id] = get_subsystem(  # type: ignore[assignment]
                session=session, subsystem_id=row.client_subsystem_id
            )
        out.append(_right_info(row, services[row.service_id], clients[row.client_subsystem_id]))
    return out


def list_mandates(
    *, session: Session, service_id: int | None = None, current_only: bool = False
) -> list[MandateInfo]:
    """Mandates (of one service), newest first."""
    query = select(Mandate)
    if service_id is not None:
        query = query.where(Mandate.service_id == service_id)
    if current_only:
        now = utcnow()
        query = query.where(
            Mandate.valid_from <= now,
            or_(Mandate.valid_until.is_(None), Mandate.valid_until > now),
        )
    query = query.order_by(Mandate.id.desc()).limit(MAX_LIST)
    return [_mandate_info(row) for row in session.scalars(query)]


# --- Verbs: subsystems ---------------------------------------------------------------------


def member_of(*, session: Session, agency_id: str) -> tuple[str, str]:
    """The X-Road member (class, code) an agency belongs to: its own, or its nearest parent's.

    A unit (say Ditjen Dukcapil) is not a member itself; its subsystems belong to the member
    above it (Kemendagri), as an X-Road member's departments run subsystems of that member.
    """
    agency = satudata.find_agency(session=session, agency_id=agency_id)
    if agency is None:
        raise Problem("not-found", "No such agency in the agency registry.")
    if agency.member_class and agency.member_code:
        return agency.member_class, agency.member_code
    for parent in reversed(satudata.agency_ancestors(session=session, agency_id=agency.id)):
        if parent.member_class and parent.member_code:
            return parent.member_class, parent.member_code
    raise Problem("validation-error", "The agency is not an exchange member (no member code).")


def _load_subsystem(session: Session, subsystem_id: Any) -> Subsystem:
    if not isinstance(subsystem_id, int) or isinstance(subsystem_id, bool):
        raise Problem("not-found", "No such subsystem.")
    row = session.get(Subsystem, subsystem_id)
    if row is None:
        raise Problem("not-found", "No such subsystem.")
    return row


def _check_client_id(session: Session, client_id: Any, subsystem_id: int | None) -> str | None:
    if client_id is None or client_id == "":
        return None
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise Problem("validation-error", "client_id is not a valid OIDC client identifier.")
    other = session.scalar(select(Subsystem).where(Subsystem.client_id == client_id))
    if other is not None and other.id != subsystem_id:
        raise Problem("conflict", "This OIDC client already belongs to another subsystem.")
    return client_id


def _check_rate(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1_000_000:
        raise Problem("validation-error", "rate_limit_per_minute is 0-1000000 (0: the default).")
    return value


def register_subsystem(
    *,
    session: Session,
    actor: Actor,
    agency_id: str,
    subsystem_code: str,
    name: str = "",
    client_id: str | None = None,
    require_signature: bool = False,
    rate_limit_per_minute: int = 0,
) -> SubsystemInfo:
    """Register an agency's information system (member class and code come from the agency)."""
    agency = satudata.find_agency(session=session, agency_id=agency_id)
    if agency is None:
        raise Problem("not-found", "No such agency in the agency registry.")
    _require(actor, agency.id, "register the agency's subsystems")
    if not agency.active:
        raise Problem("validation-error", "The agency is not active.")
    member_class, member_code = member_of(session=session, agency_id=agency.id)
    code = _check_code(subsystem_code, "subsystem_code")
    name = _check_text(name, "name", 200)
    client_id = _check_client_id(session, client_id, None)
    row = Subsystem(
        member_class=member_class,
        member_code=member_code,
        subsystem_code=code,
        agency_id=agency.id,
        name=name or agency.name[:200],
        client_id=client_id,
        require_signature=bool(require_signature),
        rate_limit_per_minute=_check_rate(rate_limit_per_minute),
        enabled=True,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise Problem("conflict", "This subsystem (or OIDC client) is already registered.") from exc
    info = subsystem_info(row)
    _audit(
        session,
        actor,
        "exchange.subsystem.registered",
        f"subsystem:{info.xroad_id}",
        {"agency_id": agency.id, "client_id": client_id},
    )
    return info


def update_subsystem(
    *,
    session: Session,
    actor: Actor,
    subsystem_id: int,
    name: str | None = None,
    require_signature: bool | None = None,
    rate_limit_per_minute: int | None = None,
    enabled: bool | None = None,
) -> SubsystemInfo:
    """Change a subsystem's name, signature requirement, rate limit or enabled flag."""
    row = _load_subsystem(session, subsystem_id)
    _require(actor, row.agency_id, "change the agency's subsystems")
    changes: dict[str, Any] = {}
    if name is not None:
        row.name = changes["name"] = _check_text(name, "name", 200, required=True)
    if require_signature is not None:
        row.require_signature = changes["require_signature"] = bool(require_signature)
    if rate_limit_per_minute is not None:
        row.rate_limit_per_minute = changes["rate_limit_per_minute"] = _check_rate(
            rate_limit_per_minute
        )
    if enabled is not None:
        row.enabled = changes["enabled"] = bool(enabled)
    session.flush()
    info = subsystem_info(row)
    _audit(session, actor, "exchange.subsystem.updated", f"subsystem:{info.xroad_id}", changes)
    return info


def set_subsystem_client(
    *, session: Session, actor: Actor, subsystem_id: int, client_id: str | None
) -> SubsystemInfo:
    """Link the OIDC client (client_credentials) the subsystem authenticates as, or unlink it.

    The link is checked again on every call: the token's client must belong to the same agency.
    """
    row = _load_subsystem(session, subsystem_id)
    _require(actor, row.agency_id, "change the agency's subsystems")
    row.client_id = _check_client_id(session, client_id, row.id)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Problem("conflict", "This OIDC client already belongs to another subsystem.") from exc
    info = subsystem_info(row)
    _audit(
        session,
        actor,
        "exchange.subsystem.client_set",
        f"subsystem:{info.xroad_id}",
        {"client_id": row.client_id},
    )
    return info


# --- Verbs: services, rights and mandates (registry_services.py builds on the helpers above) ---
# isort: split
from satu.exchange.registry_services import add_mandate as add_mandate  # noqa: E402
from satu.exchange.registry_services import disable_service as disable_service  # noqa: E402
from satu.exchange.registry_services import end_mandate as end_mandate  # noqa: E402
from satu.exchange.registry_services import find_right as find_right  # noqa: E402
from satu.exchange.registry_services import grant_access as grant_access  # noqa: E402
from satu.exchange.registry_services import register_service as register_service  # noqa: E402
from satu.exchange.registry_services import revoke_access as revoke_access  # noqa: E402
from satu.exchange.registry_services import update_service as update_service  # noqa: E402
