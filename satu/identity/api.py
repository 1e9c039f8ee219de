"""JSON API of the population register (for civil registry officers) and of one's own data."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.identity import accounts, residents
from satu.identity.access import require_account, require_registrar
from satu.identity.audit import client_ip, record_audit
from satu.identity.schemas import (
    AccountOut,
    FamilyMember,
    LoginInfo,
    OfficerContext,
    ResidentIn,
    ResidentOut,
)

router = APIRouter(prefix="/api/v1/identity", tags=["identity"])
REGISTRAR = Depends(require_registrar)
ACCOUNT = Depends(require_account)


class DeathIn(BaseModel):
    """A death to record."""

    died_on: date


class MeOut(BaseModel):
    """The signed-in resident: account, register data and how they signed in."""

    account: AccountOut
    resident: ResidentOut
    acr: str
    amr: list[str]


def _nik_path(nik: str) -> str:
    if len(nik) != 16 or not nik.isdigit():
        raise Problem("invalid-nik", "A NIK is exactly 16 digits (0-9).")
    return nik


@router.post("/residents", status_code=201, response_model=ResidentOut)
def register(
    data: ResidentIn, request: Request, session: DbSession, officer: OfficerContext = REGISTRAR
) -> ResidentOut:
    """Register a resident; the NIK must agree with the birth date and sex."""
    return residents.register_resident(
        session=session, data=data, actor=f"account:{officer.account_id}", ip=client_ip(request)
    )


@router.get("/residents/{nik}", response_model=ResidentOut)
def read(
    nik: str, request: Request, session: DbSession, officer: OfficerContext = REGISTRAR
) -> ResidentOut:
    """One resident of the register (every read is audited)."""
    resident = residents.get_resident(session=session, nik=_nik_path(nik))
    record_audit(
        session=session,
        actor=f"account:{officer.account_id}",
        action="resident.read",
        target=f"resident:{nik[:6]}**********",
        ip=client_ip(request),
    )
    return resident


@router.get("/residents/{nik}/family", response_model=list[FamilyMember])
def family(
    nik: str, request: Request, session: DbSession, officer: OfficerContext = REGISTRAR
) -> list[FamilyMember]:
    """Everyone on the resident's family card (every read is audited)."""
    resident = residents.get_resident(session=session, nik=_nik_path(nik))
    record_audit(
        session=session,
        actor=f"account:{officer.account_id}",
        action="resident.family_read",
        target=f"resident:{nik[:6]}**********",
        ip=client_ip(request),
    )
    return residents.family_members(session=session, kk_number=resident.kk_number)


@router.post("/residents/{nik}/death", response_model=ResidentOut)
def death(
    nik: str,
    body: DeathIn,
    request: Request,
    session: DbSession,
    officer: OfficerContext = REGISTRAR,
) -> ResidentOut:
    """Record a resident's death; their account is disabled."""
    return residents.record_death(
        session=session,
        nik=_nik_path(nik),
        died_on=body.died_on,
        actor=f"account:{officer.account_id}",
        ip=client_ip(request),
    )


@router.get("/me", response_model=MeOut)
def me(session: DbSession, login: LoginInfo = ACCOUNT) -> MeOut:
    """The signed-in resident's own account and register data."""
    account = accounts.find_account(session=session, account_id=login.account_id)
    resident = residents.get_resident(session=session, nik=login.resident_nik)
    assert account is not None
    return MeOut(account=account, resident=resident, acr=login.acr, amr=login.amr)
