"""Registry lookups, projections and lists (re-exported by `registry`).

Lookups (`resolve_client`, `resolve_service`, `match_operation`, `is_allowed`, `find_mandate`,
`allowed_services`) are what the gateway and metaservices call on every request; the lists
serve the admin API and CLI, and the projections (`subsystem_info`, `service_info`, ...) turn
rows into the public schemas for the verbs as well. Lookups return disabled subsystems and
services too (`enabled=False`); `is_allowed` is False whenever the client, the provider or the
service is disabled.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from satu.core.config import get_settings
from satu.core.db import utcnow
from satu.exchange.models import AccessRight, ExchangeService, Mandate, Subsystem
from satu.exchange.registry_openapi import find_operation, operation_label
from satu.exchange.schemas import (
    AccessRightInfo,
    MandateInfo,
    OperationInfo,
    ServiceInfo,
    SubsystemInfo,
)
from satu.exchange.xroad import ClientId, ServiceId

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
