"""Registry verbs for services, access rights and mandates (re-exported by `registry`).

Who may do what: a provider agency's officers (or an administrator) register and change the
agency's services and grant or revoke rights to call them; mandates (a law letting a consumer
obtain personal data without the resident's consent) are registered by administrators only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.core.errors import Problem
from satu.exchange import registry as reg
from satu.exchange import registry_lookups as lookups
from satu.exchange.models import AccessRight, ExchangeService, Mandate, Subsystem
from satu.exchange.registry_openapi import (
    check_base_url,
    check_openapi,
    operation_label,
    parse_operation,
    select_operations,
)
from satu.exchange.schemas import AccessRightInfo, Actor, MandateInfo, ServiceInfo
from satu.satudata import service as satudata

MAX_TIMEOUT_MS = 120_000
MAX_BODY_BYTES = 100 * 1024 * 1024


def _load_service(session: Session, service_id: Any) -> tuple[ExchangeService, Subsystem]:
    if not isinstance(service_id, int) or isinstance(service_id, bool):
        raise Problem("not-found", "No such service.")
    row = session.get(ExchangeService, service_id)
    if row is None:
        raise Problem("not-found", "No such service.")
    return row, session.get_one(Subsystem, row.subsystem_id)


def _check_int(value: Any, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise Problem("validation-error", f"{what} must be a whole number from {low} to {high}.")
    return value


def register_service(
    *,
    session: Session,
    actor: Actor,
    subsystem_id: int,
    service_code: str,
    base_url: str,
    openapi: dict[str, Any],
    operations: list[Any] | None = None,
    title: str = "",
    personal_data: bool = True,
    timeout_ms: int = 10_000,
    max_body_bytes: int = 1_048_576,
) -> ServiceInfo:
    """Register a service of a subsystem: its backend, OpenAPI document and exposed operations.

    `operations` ("GET /persons/{nik}" or {method, path}) must be operations of the document;
    none given exposes every operation of the document.
    """
    provider = reg._load_subsystem(session, subsystem_id)
    reg._require(actor, provider.agency_id, "register the agency's services")
    code = reg._check_code(service_code, "service_code", 100)
    url = check_base_url(base_url)
    document = check_openapi(openapi)
    exposed = select_operations(document, operations)
    title = reg._check_text(title, "title", 200)
    if not title:
        info = document.get("info")
        raw = info.get("title") if isinstance(info, dict) else None
        title = reg._check_text(raw if isinstance(raw, str) else "", "info.title", 10_000)[:200]
    row = ExchangeService(
        subsystem_id=provider.id,
        service_code=code,
        title=title,
        base_url=url,
        openapi=document,
        operations=[op.model_dump() for op in exposed],
        personal_data=bool(personal_data),
        timeout_ms=_check_int(timeout_ms, "timeout_ms", 100, MAX_TIMEOUT_MS),
        max_body_bytes=_check_int(max_body_bytes, "max_body_bytes", 0, MAX_BODY_BYTES),
        enabled=True,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise Problem("conflict", "This subsystem already has a service with this code.") from exc
    info = lookups.service_info(row, provider)
    reg._audit(
        session,
        actor,
        "exchange.service.registered",
        f"service:{info.xroad_id}",
        {"base_url": url, "operations": [operation_label(op) for op in exposed]},
    )
    return info


def update_service(
    *,
    session: Session,
    actor: Actor,
    service_id: int,
    base_url: str | None = None,
    openapi: dict[str, Any] | None = None,
    operations: list[Any] | None = None,
    title: str | None = None,
    personal_data: bool | None = None,
    timeout_ms: int | None = None,
    max_body_bytes: int | None = None,
    enabled: bool | None = None,
) -> ServiceInfo:
    """Change a service; a new document or operation list is checked like at registration.

    Access rights naming an operation the service no longer exposes are removed.
    """
    row, provider = _load_service(session, service_id)
    reg._require(actor, provider.agency_id, "change the agency's services")
    changes: dict[str, Any] = {}
    if base_url is not None:
        row.base_url = changes["base_url"] = check_base_url(base_url)
    if openapi is not None or operations is not None:
        document = check_openapi(openapi if openapi is not None else row.openapi)
        if operations is None and openapi is not None:
            # Keep the exposed operations that the new document still has.
            kept = [operation_label(op) for op in lookups._operations_of(row)]
            available = {operation_label(op) for op in select_operations(document, None)}
            operations = [label for label in kept if label in available] or None
        exposed = select_operations(document, operations)
        row.openapi = document
        row.operations = [op.model_dump() for op in exposed]
        labels = {operation_label(op) for op in exposed}
        changes["operations"] = sorted(labels)
        for right in session.scalars(
            select(AccessRight).where(
                AccessRight.service_id == row.id, AccessRight.operation.is_not(None)
            )
        ):
            if right.operation not in labels:
                session.delete(right)
    if title is not None:
        row.title = changes["title"] = reg._check_text(title, "title", 200)
    if personal_data is not None:
        row.personal_data = changes["personal_data"] = bool(personal_data)
    if timeout_ms is not None:
        row.timeout_ms = changes["timeout_ms"] = _check_int(
            timeout_ms, "timeout_ms", 100, MAX_TIMEOUT_MS
        )
    if max_body_bytes is not None:
        row.max_body_bytes = changes["max_body_bytes"] = _check_int(
            max_body_bytes, "max_body_bytes", 0, MAX_BODY_BYTES
        )
    if enabled is not None:
        row.enabled = changes["enabled"] = bool(enabled)
    session.flush()
    info = lookups.service_info(row, provider)
    reg._audit(session, actor, "exchange.service.updated", f"service:{info.xroad_id}", changes)
    return info


def disable_service(*, session: Session, actor: Actor, service_id: int) -> ServiceInfo:
    """Stop a service: the gateway refuses calls to it until it is enabled again."""
    return update_service(session=session, actor=actor, service_id=service_id, enabled=False)


def grant_access(
    *,
    session: Session,
    actor: Actor,
    service_id: int,
    client_subsystem_id: int,
    operation: str | None = None,
) -> AccessRightInfo:
    """Let a consumer subsystem call a service (one exposed operation, or all of them).

    Granting a right that exists already answers that right.
    """
    row, provider = _load_service(session, service_id)
    reg._require(actor, provider.agency_id, "grant access to the agency's services")
    client = reg._load_subsystem(session, client_subsystem_id)
    label: str | None = None
    if operation is not None and operation != "":
        method, path = parse_operation(operation)
        label = f"{method} {path}"
        if label not in {operation_label(op) for op in lookups._operations_of(row)}:
            raise Problem("validation-error", f"The service does not expose {label[:120]}.")
    condition = AccessRight.operation.is_(None) if label is None else AccessRight.operation == label
    existing = session.scalar(
        select(AccessRight).where(
            AccessRight.service_id == row.id,
            AccessRight.client_subsystem_id == client.id,
            condition,
        )
    )
    service = lookups.service_info(row, provider)
    client_info = lookups.subsystem_info(client)
    if existing is not None:
        return lookups._right_info(existing, service, client_info)
    right = AccessRight(
        service_id=row.id,
        client_subsystem_id=client.id,
        operation=label,
        granted_by=actor.name[:100],
        granted_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(right)
    except IntegrityError as exc:
        raise Problem("conflict", "This access right exists already.") from exc
    reg._audit(
        session,
        actor,
        "exchange.right.granted",
        f"service:{service.xroad_id}",
        {"client": client_info.xroad_id, "operation": label},
    )
    return lookups._right_info(right, service, client_info)


def revoke_access(*, session: Session, actor: Actor, right_id: int) -> AccessRightInfo:
    """Take an access right away."""
    if not isinstance(right_id, int) or isinstance(right_id, bool):
        raise Problem("not-found", "No such access right.")
    right = session.get(AccessRight, right_id)
    if right is None:
        raise Problem("not-found", "No such access right.")
    row, provider = _load_service(session, right.service_id)
    reg._require(actor, provider.agency_id, "revoke access to the agency's services")
    client = session.get_one(Subsystem, right.client_subsystem_id)
    info = lookups._right_info(
        right, lookups.service_info(row, provider), lookups.subsystem_info(client)
    )
    session.delete(right)
    session.flush()
    reg._audit(
        session,
        actor,
        "exchange.right.revoked",
        f"service:{info.service}",
        {"client": info.client, "operation": info.operation},
    )
    return info


def find_right(
    *, session: Session, service_id: int, client_subsystem_id: int, operation: str | None
) -> AccessRightInfo | None:
    """The right with exactly this service, client and operation, or None."""
    condition = (
        AccessRight.operation.is_(None) if operation is None else AccessRight.operation == operation
    )
    right = session.scalar(
        select(AccessRight).where(
            AccessRight.service_id == service_id,
            AccessRight.client_subsystem_id == client_subsystem_id,
            condition,
        )
    )
    if right is None:
        return None
    row, provider = _load_service(session, right.service_id)
    client = session.get_one(Subsystem, right.client_subsystem_id)
    return lookups._right_info(
        right, lookups.service_info(row, provider), lookups.subsystem_info(client)
    )


def add_mandate(
    *,
    session: Session,
    actor: Actor,
    service_id: int,
    client_agency_id: str,
    purpose: str,
    legal_basis: str,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> MandateInfo:
    """Register a legal mandate: the client agency may obtain the service's data for a purpose."""
    reg._require_admin(actor, "register legal mandates")
    row, _provider = _load_service(session, service_id)
    agency = satudata.find_agency(session=session, agency_id=client_agency_id)
    if agency is None:
        raise Problem("not-found", "No such agency in the agency registry.")
    member_class, member_code = reg.member_of(session=session, agency_id=agency.id)
    purpose = reg._check_text(purpose, "purpose", 100, required=True)
    legal_basis = reg._check_text(legal_basis, "legal_basis", 500, required=True)
    start = valid_from or utcnow()
    for value, what in ((start, "valid_from"), (valid_until, "valid_until")):
        if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
            raise Problem("validation-error", f"{what} must be a date-time with a time zone.")
    if valid_until is not None and valid_until <= start:
        raise Problem("validation-error", "valid_until must be after valid_from.")
    mandate = Mandate(
        service_id=row.id,
        client_member_class=member_class,
        client_member_code=member_code,
        purpose=purpose,
        legal_basis=legal_basis,
        valid_from=start,
        valid_until=valid_until,
        created_at=utcnow(),
    )
    session.add(mandate)
    session.flush()
    info = lookups._mandate_info(mandate)
    reg._audit(
        session,
        actor,
        "exchange.mandate.added",
        f"mandate:{mandate.id}",
        {"service_id": row.id, "client_agency_id": agency.id, "purpose": purpose},
    )
    return info


def end_mandate(*, session: Session, actor: Actor, mandate_id: int) -> MandateInfo:
    """End a mandate now (kept for the record; exchanges under it stay explained)."""
    reg._require_admin(actor, "end legal mandates")
    if not isinstance(mandate_id, int) or isinstance(mandate_id, bool):
        raise Problem("not-found", "No such mandate.")
    mandate = session.get(Mandate, mandate_id)
    if mandate is None:
        raise Problem("not-found", "No such mandate.")
    now = utcnow()
    if mandate.valid_until is None or mandate.valid_until > now:
        mandate.valid_until = max(now, mandate.valid_from)
        session.flush()
    reg._audit(session, actor, "exchange.mandate.ended", f"mandate:{mandate.id}", {})
    return lookups._mandate_info(mandate)
