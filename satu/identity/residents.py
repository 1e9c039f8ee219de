"""The population register (the Dukcapil role): residents keyed by NIK, families, status."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.core.errors import Problem
from satu.core.nik import InvalidNik, parse_nik
from satu.identity.accounts import account_for_nik, mask_email, mask_phone, set_account_status
from satu.identity.audit import record_audit
from satu.identity.models import Resident
from satu.identity.schemas import Address, FamilyMember, RegionRef, ResidentIn, ResidentOut
from satu.satudata import service as satudata


def _nik_problem(exc: InvalidNik) -> Problem:
    return Problem(
        "invalid-nik",
        "; ".join(issue.message for issue in exc.issues) or "The NIK is not valid.",
        errors=[
            {"part": issue.part, "message": issue.message, "message_id": issue.message_id}
            for issue in exc.issues
        ],
    )


def nik_mismatches(*, nik: str, birth_date: date, sex: str) -> list[str]:
    """Why a NIK disagrees with a birth date and sex (empty when they agree)."""
    parsed = parse_nik(nik, today=max(birth_date, utcnow().date()))
    reasons = []
    if (parsed.birth_date.day, parsed.birth_date.month, parsed.birth_date.year % 100) != (
        birth_date.day,
        birth_date.month,
        birth_date.year % 100,
    ):
        reasons.append(
            f"the NIK encodes birth date {parsed.birth_date:%d-%m-%y} "
            f"but the birth date given is {birth_date:%d-%m-%Y}"
        )
    if parsed.sex != sex:
        coded = "female (day + 40)" if parsed.sex == "F" else "male"
        reasons.append(f"the NIK encodes sex {coded} but the sex given is {sex}")
    return reasons


def register_resident(
    *, session: Session, data: ResidentIn, actor: str = "system", ip: str | None = None
) -> ResidentOut:
    """Add a resident; refuse a NIK that disagrees with the birth date or sex, or is taken."""
    try:
        satudata.parse_nik(session=session, value=data.nik)
    except InvalidNik as exc:
        raise _nik_problem(exc) from exc
    reasons = nik_mismatches(nik=data.nik, birth_date=data.birth_date, sex=data.sex)
    if reasons:
        raise Problem(
            "validation-error",
            "The NIK does not agree with the resident's data: " + "; ".join(reasons) + ".",
            errors=[{"location": ["body", "nik"], "message": r} for r in reasons],
        )
    if data.birth_date > utcnow().date():
        raise Problem("validation-error", "The birth date is in the future.")
    village = satudata.get_region(session=session, code=data.village_code)
    if village.level != 4:
        raise Problem("validation-error", "village_code must be the code of a village.")
    if session.get(Resident, data.nik) is not None:
        raise Problem("conflict", "A resident with this NIK is already registered.")
    for parent in (data.father_nik, data.mother_nik):
        if parent is not None and session.get(Resident, parent) is None:
            raise Problem(
                "validation-error", f"Parent NIK {parent[:6]}********** is not registered."
            )
    resident = Resident(
        nik=data.nik,
        full_name=data.full_name,
        birth_place=data.birth_place,
        birth_date=data.birth_date,
        sex=data.sex,
        address_line=data.address_line,
        rt=data.rt,
        rw=data.rw,
        village_code=data.village_code,
        kk_number=data.kk_number,
        family_relation=data.family_relation,
        father_nik=data.father_nik,
        mother_nik=data.mother_nik,
        phone=data.phone,
        email=data.email,
        status="alive",
    )
    session.add(resident)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="resident.registered",
        target=f"resident:{data.nik[:6]}**********",
        ip=ip,
    )
    return _out(session, resident)


def _region_names(session: Session, village_code: str) -> dict[str, str]:
    try:
        return {r.code: r.name for r in satudata.region_path(session=session, code=village_code)}
    except Problem:
        return {}


def _out(session: Session, resident: Resident) -> ResidentOut:
    names = _region_names(session, resident.village_code)
    code = resident.village_code

    def ref(prefix: str) -> RegionRef:
        return RegionRef(code=prefix, name=names.get(prefix))

    return ResidentOut(
        nik=resident.nik,
        full_name=resident.full_name,
        birth_place=resident.birth_place,
        birth_date=resident.birth_date,
        sex=resident.sex,  # type: ignore[arg-type]
        address=Address(
            line=resident.address_line,
            rt=resident.rt,
            rw=resident.rw,
            village=ref(code),
            district=ref(code[:8]),
            regency=ref(code[:5]),
            province=ref(code[:2]),
        ),
        kk_number=resident.kk_number,
        family_relation=resident.family_relation,
        father_nik=resident.father_nik,
        mother_nik=resident.mother_nik,
        status=resident.status,  # type: ignore[arg-type]
        died_on=resident.died_on,
        phone_masked=mask_phone(resident.phone),
        email_masked=mask_email(resident.email),
    )


def find_resident(*, session: Session, nik: str) -> ResidentOut | None:
    """The resident with this NIK, or None."""
    resident = session.get(Resident, nik)
    return _out(session, resident) if resident is not None else None


def get_resident(*, session: Session, nik: str) -> ResidentOut:
    """The resident with this NIK; 404 problem if none."""
    resident = find_resident(session=session, nik=nik)
    if resident is None:
        raise Problem("not-found", "No resident has this NIK.")
    return resident


def family_members(*, session: Session, kk_number: str) -> list[FamilyMember]:
    """Everyone on a family card (KK), head first."""
    order = {"head": 0, "spouse": 1, "child": 2, "parent": 3, "other": 4}
    rows = session.scalars(select(Resident).where(Resident.kk_number == kk_number))
    members = [
        FamilyMember(
            nik=r.nik,
            full_name=r.full_name,
            family_relation=r.family_relation,
            birth_date=r.birth_date,
            sex=r.sex,  # type: ignore[arg-type]
            status=r.status,  # type: ignore[arg-type]
        )
        for r in rows
    ]
    return sorted(members, key=lambda m: (order.get(m.family_relation, 9), m.birth_date))


def record_death(
    *, session: Session, nik: str, died_on: date, actor: str, ip: str | None = None
) -> ResidentOut:
    """Mark a resident deceased; their account can no longer sign in."""
    resident = session.get(Resident, nik)
    if resident is None:
        raise Problem("not-found", "No resident has this NIK.")
    if died_on < resident.birth_date or died_on > utcnow().date():
        raise Problem("validation-error", "The date of death is not plausible.")
    resident.status = "deceased"
    resident.died_on = died_on
    session.flush()
    account = account_for_nik(session=session, nik=nik)
    if account is not None and account.status == "active":
        set_account_status(session=session, account_id=account.id, status="disabled", actor=actor)
    record_audit(
        session=session,
        actor=actor,
        action="resident.deceased",
        target=f"resident:{nik[:6]}**********",
        ip=ip,
    )
    return _out(session, resident)
