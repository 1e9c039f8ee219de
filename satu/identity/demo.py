"""Demo content for `satu demo`: a synthetic population and two well-known demo accounts."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu.identity import accounts, officers, residents, seed
from satu.identity.models import Resident
from satu.identity.schemas import ResidentIn

DEMO_POPULATION = 2000
DEMO_AGENCY = "kemendagri.dukcapil"
# (NIK, name, sex, birth date, password, roles): documented in docs/identity.md.
DEMO_PEOPLE = (
    ("3273015708900001", "Siti Rahayu", "F", date(1990, 8, 17), "satu-demo-warga", ()),
    ("3273011708850001", "Budi Santoso", "M", date(1985, 8, 17), "satu-demo-admin", ("admin",)),
)


def seed_demo(*, session: Session) -> dict[str, int]:
    """Add the demo people (idempotent) and top the population up to `DEMO_POPULATION`."""
    added_accounts = 0
    for nik, name, sex, born, password, roles in DEMO_PEOPLE:
        if session.get(Resident, nik) is None:
            residents.register_resident(
                session=session,
                data=ResidentIn(
                    nik=nik,
                    full_name=name,
                    birth_place="Bandung",
                    birth_date=born,
                    sex=sex,  # type: ignore[arg-type]
                    address_line="Jl. Setiabudi No. 17",
                    rt="001",
                    rw="002",
                    village_code="32.73.01.1001",
                    kk_number=nik[:6] + "0101" + nik[10:12] + "0001",
                    phone="+6281200000" + nik[-3:],
                ),
                actor="demo",
            )
        account = accounts.account_for_nik(session=session, nik=nik)
        if account is None:
            account = accounts.create_account(
                session=session, nik=nik, password=password, actor="demo"
            )
            added_accounts += 1
        for role in roles:
            officers.grant_role(
                session=session, account_id=account.id, role=role, granted_by="demo"
            )
        if roles:
            officers.grant_role(
                session=session,
                account_id=account.id,
                role="agency_admin",
                agency_id=DEMO_AGENCY,
                granted_by="demo",
            )
    count = session.scalar(select(func.count()).select_from(Resident)) or 0
    added = 0
    if count < DEMO_POPULATION:
        added = seed.seed_residents(
            session=session, count=DEMO_POPULATION - count, seed=2026
        ).residents
    return {"residents added": added, "demo accounts added": added_accounts}
