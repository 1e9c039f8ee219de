"""The exchange registry: members' subsystems, their services, access rights and mandates.

This module is the registry's public face: it holds the subsystem verbs and the checks and audit
helpers every verb shares, and re-exports the lookups, projections and lists
(`registry_lookups.py`) and the verbs for services, access rights and mandates
(`registry_services.py`). Verbs change the registry: each checks that the actor may (an exchange
administrator anything, an agency's officer only that agency's subsystems and services) and
writes an audit record.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from satu.core.errors import Problem
from satu.exchange.models import Subsystem
from satu.exchange.registry_lookups import EVENT_SERVICE_PREFIX as EVENT_SERVICE_PREFIX
from satu.exchange.registry_lookups import MAX_LIST as MAX_LIST
from satu.exchange.registry_lookups import allowed_operations as allowed_operations
from satu.exchange.registry_lookups import allowed_services as allowed_services
from satu.exchange.registry_lookups import find_mandate as find_mandate
from satu.exchange.registry_lookups import get_openapi as get_openapi
from satu.exchange.registry_lookups import get_service as get_service
from satu.exchange.registry_lookups import get_subsystem as get_subsystem
from satu.exchange.registry_lookups import is_allowed as is_allowed
from satu.exchange.registry_lookups import is_event_service as is_event_service
from satu.exchange.registry_lookups import list_mandates as list_mandates
from satu.exchange.registry_lookups import list_rights as list_rights
from satu.exchange.registry_lookups import list_services as list_services
from satu.exchange.registry_lookups import list_subsystems as list_subsystems
from satu.exchange.registry_lookups import match_operation as match_operation
from satu.exchange.registry_lookups import resolve_client as resolve_client
from satu.exchange.registry_lookups import resolve_service as resolve_service
from satu.exchange.registry_lookups import service_info as service_info
from satu.exchange.registry_lookups import subsystem_for_client_id as subsystem_for_client_id
from satu.exchange.registry_lookups import subsystem_info as subsystem_info
from satu.exchange.schemas import Actor, SubsystemInfo
from satu.identity import service as identity
from satu.satudata import service as satudata

# Codes we accept when registering (stricter than what X-Road may parse).
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"
_CODE = re.compile(CODE_PATTERN)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")


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
