"""Claims about a resident, released per scope (data minimisation: only what was consented)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import utcnow
from satu.core.errors import Problem
from satu.identity import service as identity
from satu.identity.schemas import ResidentOut


def age_on(birth_date: date, today: date) -> int:
    """Whole years of age on `today`."""
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - (1 if before_birthday else 0)


def _address(resident: ResidentOut) -> dict[str, Any]:
    address = resident.address
    street = address.line
    if address.rt or address.rw:
        street = f"{street} RT {address.rt or '-'}/RW {address.rw or '-'}".strip()
    parts = [
        street,
        address.village.name,
        address.district.name,
        address.regency.name,
        address.province.name,
    ]
    return {
        "formatted": ", ".join(p for p in parts if p),
        "street_address": street,
        "locality": address.village.name or address.village.code,
        "region": address.province.name or address.province.code,
        "country": "Indonesia",
        "satu_village_code": address.village.code,
        "satu_district_code": address.district.code,
        "satu_regency_code": address.regency.code,
        "satu_province_code": address.province.code,
    }


def resident_claims(
    *, session: Session, settings: Settings, account_id: str, scopes: list[str]
) -> dict[str, Any] | None:
    """The claims the scopes release about an account's resident; None if it is not active."""
    try:
        account = identity.get_account(session=session, account_id=account_id)
        resident = identity.get_resident(session=session, nik=account.resident_nik)
    except Problem:
        return None
    if account.status != "active":
        return None
    claims: dict[str, Any] = {}
    if "profile" in scopes:
        claims["name"] = resident.full_name
    if "birthdate" in scopes:
        claims["birthdate"] = resident.birth_date.isoformat()
    if "address" in scopes:
        claims["address"] = _address(resident)
    if "age_over_18" in scopes:
        claims["age_over_18"] = age_on(resident.birth_date, utcnow().date()) >= 18
    if "nik" in scopes:
        claims["nik"] = resident.nik
    return claims
