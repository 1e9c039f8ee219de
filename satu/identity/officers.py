"""Officers: accounts with roles scoped to an agency, and the global admin roles.

Agency-scoped roles: `officer` (serves residents), `verifier` (checks documents),
`agency_admin` (manages the agency's officers). Global roles: `admin` (manages everything
in identity) and `ministry_observer` (reads across agencies).
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from satu.core.errors import Problem
from satu.identity.audit import record_audit
from satu.identity.models import Account, Resident, RoleGrant
from satu.identity.schemas import GLOBAL_ROLES, SCOPED_ROLES, OfficerContext, RoleGrantOut
from satu.satudata import service as satudata


def _out(grant: RoleGrant) -> RoleGrantOut:
    return RoleGrantOut(
        id=grant.id,
        account_id=grant.account_id,
        role=grant.role,  # type: ignore[arg-type]
        agency_id=grant.agency_id,
        granted_by=grant.granted_by,
        granted_at=grant.granted_at,
    )


def may_grant(actor: OfficerContext | None, role: str, agency_id: str | None) -> bool:
    """Whether `actor` may grant or revoke `role` at `agency_id`."""
    if actor is None:
        return False
    if actor.is_admin:
        return True
    if role in ("officer", "verifier") and agency_id is not None:
        return "agency_admin" in actor.roles_at(agency_id)
    return False


def grant_role(
    *,
    session: Session,
    account_id: str,
    role: str,
    agency_id: str | None = None,
    granted_by: str = "system",
    ip: str | None = None,
) -> RoleGrantOut:
    """Give an account a role; scoped roles need an existing agency, global roles none."""
    if role in SCOPED_ROLES:
        if not agency_id:
            raise Problem("validation-error", f"The role {role} needs an agency.")
        agency = satudata.get_agency(session=session, agency_id=agency_id)
        if not getattr(agency, "active", True):
            raise Problem("validation-error", "The agency is not active.")
    elif role in GLOBAL_ROLES:
        if agency_id:
            raise Problem("validation-error", f"The role {role} is global: give no agency.")
        agency_id = None
    else:
        raise Problem("validation-error", f"Unknown role {role!r}.")
    account = session.get(Account, account_id)
    if account is None:
        raise Problem("not-found", "No such account.")
    existing = session.scalar(
        select(RoleGrant).where(
            RoleGrant.account_id == account_id,
            RoleGrant.role == role,
            RoleGrant.agency_id.is_(None)
            if agency_id is None
            else RoleGrant.agency_id == agency_id,
        )
    )
    if existing is not None:
        return _out(existing)
    grant = RoleGrant(
        id=str(uuid.uuid4()),
        account_id=account_id,
        role=role,
        agency_id=agency_id,
        granted_by=granted_by[:80],
    )
    try:
        with session.begin_nested():
            session.add(grant)
    except IntegrityError as exc:
        raise Problem("conflict", "This role is already granted.") from exc
    record_audit(
        session=session,
        actor=granted_by,
        action="role.granted",
        target=f"account:{account_id}",
        ip=ip,
        detail={"role": role, "agency_id": agency_id},
    )
    return _out(grant)


def revoke_role(
    *, session: Session, grant_id: str, revoked_by: str = "system", ip: str | None = None
) -> RoleGrantOut:
    """Take a role grant away."""
    grant = session.get(RoleGrant, grant_id)
    if grant is None:
        raise Problem("not-found", "No such role grant.")
    out = _out(grant)
    session.delete(grant)
    session.flush()
    record_audit(
        session=session,
        actor=revoked_by,
        action="role.revoked",
        target=f"account:{out.account_id}",
        ip=ip,
        detail={"role": out.role, "agency_id": out.agency_id},
    )
    return out


def get_grant(*, session: Session, grant_id: str) -> RoleGrantOut | None:
    """One role grant, or None."""
    grant = session.get(RoleGrant, grant_id)
    return _out(grant) if grant is not None else None


def list_grants(
    *, session: Session, agency_id: str | None = None, account_id: str | None = None
) -> list[RoleGrantOut]:
    """Role grants, optionally of one agency or one account."""
    query = select(RoleGrant)
    if agency_id is not None:
        query = query.where(RoleGrant.agency_id == agency_id)
    if account_id is not None:
        query = query.where(RoleGrant.account_id == account_id)
    return [_out(g) for g in session.scalars(query.order_by(RoleGrant.granted_at).limit(1000))]


def officer_context(*, session: Session, account_id: str) -> OfficerContext | None:
    """The roles of an account, or None if it holds none."""
    account = session.get(Account, account_id)
    if account is None or account.status != "active":
        return None
    grants = list_grants(session=session, account_id=account_id)
    if not grants:
        return None
    agencies = sorted({g.agency_id for g in grants if g.agency_id})
    return OfficerContext(
        account_id=account_id,
        resident_nik=account.resident_nik,
        grants=grants,
        agency_ids=agencies,
        is_admin=any(g.role == "admin" for g in grants),
    )


class AgencyOfficer(BaseModel):
    """An active account holding a role at an agency, as colleagues see it (no NIK)."""

    account_id: str
    name: str
    roles: list[str]


def agency_officers(*, session: Session, agency_id: str) -> list[AgencyOfficer]:
    """The active accounts with an agency-scoped role at `agency_id`, by name."""
    rows = session.execute(
        select(RoleGrant.account_id, RoleGrant.role, Resident.full_name)
        .join(Account, Account.id == RoleGrant.account_id)
        .join(Resident, Resident.nik == Account.resident_nik)
        .where(
            RoleGrant.agency_id == agency_id,
            RoleGrant.role.in_(SCOPED_ROLES),
            Account.status == "active",
        )
        .limit(5000)
    ).all()
    found: dict[str, AgencyOfficer] = {}
    for account_id, role, name in rows:
        entry = found.setdefault(
            account_id, AgencyOfficer(account_id=account_id, name=name, roles=[])
        )
        entry.roles.append(role)
    for entry in found.values():
        entry.roles.sort()
    return sorted(found.values(), key=lambda o: (o.name.casefold(), o.account_id))
