"""DTKS business rules: what a valid household is, and reading, listing, creating, updating.

Functions take the DTKS database's `Session`, flush and never commit (the request commits).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from satu.core.db import utcnow
from satu.core.nik import InvalidNik, NikStr, parse_nik
from satu.providers.dataapi import DataApiError
from satu.providers.dtks.tables import PROGRAMMES, Enrolment, Household, Member

KK = r"^\d{16}$"
VILLAGE = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"
Programme = Literal["PKH", "BPNT", "PIP", "PBI-JK"]
Relation = Literal["head", "spouse", "child", "parent", "other"]
PIP_AGES = (6, 21)


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    nik: NikStr
    fullName: str = Field(min_length=2, max_length=200)
    relation: Relation


class EnrolmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    programme: Programme
    beneficiaryNik: NikStr | None = None
    status: Literal["active", "suspended", "ended"] = "active"
    startDate: date
    endDate: date | None = None

    @model_validator(mode="after")
    def _dates_and_beneficiary(self) -> EnrolmentIn:
        today = utcnow().date()
        if self.startDate > today:
            raise ValueError("startDate is in the future")
        if self.endDate is not None and self.endDate < self.startDate:
            raise ValueError("endDate is before startDate")
        if self.status == "ended" and self.endDate is None:
            raise ValueError("an ended enrolment needs its endDate")
        if self.status != "ended" and self.endDate is not None and self.endDate < today:
            raise ValueError("an enrolment past its endDate must have status 'ended'")
        per_member = PROGRAMMES[self.programme][1] == "member"
        if per_member and self.beneficiaryNik is None:
            raise ValueError(f"{self.programme} enrols one member: give beneficiaryNik")
        if not per_member and self.beneficiaryNik is not None:
            raise ValueError(f"{self.programme} enrols the household: no beneficiaryNik")
        return self


class HouseholdIn(BaseModel):
    """A whole household record as `create` writes it (and `update` must leave it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kkNumber: str = Field(pattern=KK)
    regionCode: str = Field(pattern=VILLAGE, description="Village code (Kode Wilayah)")
    address: str = Field("", max_length=300)
    welfareDecile: int = Field(ge=1, le=10, description="1 = poorest tenth")
    members: list[MemberIn] = Field(min_length=1, max_length=30)
    enrolments: list[EnrolmentIn] = Field(default_factory=list, max_length=100)

    @field_validator("address")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(not ch.isprintable() for ch in value):
            raise ValueError("must not contain control characters")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HouseholdIn:
        niks = [m.nik for m in self.members]
        if len(set(niks)) != len(niks):
            raise ValueError("a NIK appears twice among the members")
        if sum(m.relation == "head" for m in self.members) != 1:
            raise ValueError("a household has exactly one head")
        seen: set[tuple[str, str | None]] = set()
        ages = {m.nik: m for m in self.members}
        for e in self.enrolments:
            key = (e.programme, e.beneficiaryNik)
            if key in seen:
                raise ValueError(f"{e.programme} enrolment listed twice for the same beneficiary")
            seen.add(key)
            if e.beneficiaryNik is not None and e.beneficiaryNik not in ages:
                raise ValueError(f"{e.programme} beneficiary is not a member of the household")
            limit = PROGRAMMES[e.programme][2]
            if e.status == "active" and self.welfareDecile > limit:
                raise ValueError(
                    f"an active {e.programme} enrolment needs welfare decile {limit} or lower "
                    f"(this household: {self.welfareDecile})"
                )
            if e.programme == "PIP" and e.beneficiaryNik is not None:
                age = age_from_nik(e.beneficiaryNik, on=e.startDate)
                if age is not None and not PIP_AGES[0] <= age <= PIP_AGES[1]:
                    raise ValueError(
                        f"PIP is for pupils aged {PIP_AGES[0]}-{PIP_AGES[1]}; "
                        f"the beneficiary was {age} when the enrolment started"
                    )
        return self


class HouseholdPatch(BaseModel):
    """What `update` may change; lists replace the stored ones whole."""

    model_config = ConfigDict(extra="forbid")

    kkNumber: str | None = Field(None, pattern=KK)
    regionCode: str | None = None
    address: str | None = None
    welfareDecile: int | None = None
    members: list[dict[str, Any]] | None = None
    enrolments: list[dict[str, Any]] | None = None


class HouseholdMatch(BaseModel):
    """`query.content` for read/exists/update: a KK number or a member's NIK, and more to match."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kkNumber: str | None = Field(None, pattern=KK)
    memberNik: str | None = Field(None, pattern=KK)
    welfareDecile: int | None = Field(None, ge=1, le=10)
    regionCode: str | None = Field(None, pattern=VILLAGE)
    programme: Programme | None = Field(None, description="An active enrolment in it")

    @model_validator(mode="after")
    def _identifies(self) -> HouseholdMatch:
        if self.kkNumber is None and self.memberNik is None:
            raise ValueError("give kkNumber or memberNik")
        return self


def age_from_nik(nik: str, *, on: date) -> int | None:
    """Age in whole years on `on`, from the birth date a NIK encodes (None if unreadable)."""
    try:
        born = parse_nik(nik, today=on).birth_date
    except InvalidNik:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def record(household: Household) -> dict[str, Any]:
    """A household as the Data API shows it."""
    return {
        "kkNumber": household.kk_number,
        "regionCode": household.region_code,
        "address": household.address,
        "welfareDecile": household.welfare_decile,
        "members": [
            {"nik": m.nik, "fullName": m.full_name, "relation": m.relation}
            for m in household.members
        ],
        "enrolments": [
            {
                "programme": e.programme,
                "programmeName": PROGRAMMES[e.programme][0],
                "beneficiaryNik": e.beneficiary_nik,
                "status": e.status,
                "startDate": e.start_date.isoformat(),
                "endDate": e.end_date.isoformat() if e.end_date else None,
            }
            for e in household.enrolments
        ],
        "updatedAt": household.updated_at.isoformat(),
    }


def _loaded() -> Select[tuple[Household]]:
    return select(Household).options(
        selectinload(Household.members), selectinload(Household.enrolments)
    )


def find(*, session: Session, match: HouseholdMatch) -> Household | None:
    """The household matching every given field, or None."""
    query = _loaded()
    if match.kkNumber is not None:
        query = query.where(Household.kk_number == match.kkNumber)
    if match.memberNik is not None:
        query = query.where(
            Household.id.in_(select(Member.household_id).where(Member.nik == match.memberNik))
        )
    if match.welfareDecile is not None:
        query = query.where(Household.welfare_decile == match.welfareDecile)
    if match.regionCode is not None:
        query = query.where(Household.region_code == match.regionCode)
    if match.programme is not None:
        query = query.where(
            Household.id.in_(
                select(Enrolment.household_id).where(
                    Enrolment.programme == match.programme, Enrolment.status == "active"
                )
            )
        )
    return session.scalars(query).first()


def _taken_niks(session: Session, niks: list[str], household_id: int | None) -> list[str]:
    query = select(Member.nik).where(Member.nik.in_(niks))
    if household_id is not None:
        query = query.where(Member.household_id != household_id)
    return sorted(session.scalars(query))


def _apply(household: Household, data: HouseholdIn) -> None:
    household.region_code = data.regionCode
    household.address = data.address
    household.welfare_decile = data.welfareDecile
    household.updated_at = utcnow()
    household.members = [
        Member(nik=m.nik, full_name=" ".join(m.fullName.split()), relation=m.relation)
        for m in data.members
    ]
    household.enrolments = [
        Enrolment(
            programme=e.programme,
            beneficiary_nik=e.beneficiaryNik,
            status=e.status,
            start_date=e.startDate,
            end_date=e.endDate,
        )
        for e in data.enrolments
    ]


def create(*, session: Session, data: HouseholdIn) -> Household:
    """Register a household; 409 if its KK number or a member's NIK is already registered."""
    if session.scalar(select(Household.id).where(Household.kk_number == data.kkNumber)):
        raise DataApiError(409, "a household with this kkNumber is already registered")
    taken = _taken_niks(session, [m.nik for m in data.members], None)
    if taken:
        raise DataApiError(
            409,
            "member NIK already registered in another household",
            [
                {"location": ["write", "content", "members"], "message": f"{n[:6]}**********"}
                for n in taken
            ],
        )
    household = Household(kk_number=data.kkNumber)
    _apply(household, data)
    session.add(household)
    session.flush()
    return household


def update(*, session: Session, household: Household, data: HouseholdIn) -> Household:
    """Replace a household's data with `data` (already merged and validated)."""
    if data.kkNumber != household.kk_number:
        raise DataApiError(400, "kkNumber cannot be changed; register the new card instead")
    taken = _taken_niks(session, [m.nik for m in data.members], household.id)
    if taken:
        raise DataApiError(409, "member NIK already registered in another household")
    household.members.clear()
    household.enrolments.clear()
    session.flush()  # delete the old rows before the unique NIKs come back
    _apply(household, data)
    session.flush()
    return household


LIST_FIELDS = ("regionCode", "welfareDecile", "programme", "memberNik")
SEARCHABLE = {
    "address": Household.address,
    "kkNumber": Household.kk_number,
    "regionCode": Household.region_code,
}


def listing(
    *,
    session: Session,
    filters: dict[str, str],
    search: str | None,
    search_field: str | None,
    page: int,
    size: int,
    descending: bool,
) -> tuple[int, list[Household]]:
    """(count, one page) of households matching the filters, ordered by KK number."""
    conditions: list[Any] = []
    if "regionCode" in filters:
        prefix = filters["regionCode"]
        if not all(part.isdigit() for part in prefix.split(".")) or len(prefix) > 13:
            raise DataApiError(400, "query.regionCode is a region code or its prefix (32.73)")
        conditions.append(
            or_(Household.region_code == prefix, Household.region_code.startswith(prefix + "."))
        )
    if "welfareDecile" in filters:
        raw = filters["welfareDecile"]
        low, _, high = raw.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise DataApiError(400, "query.welfareDecile is a decile (3) or a range (1-4)")
        low_n, high_n = int(low), int(high or low)
        if not 1 <= low_n <= high_n <= 10:
            raise DataApiError(400, "query.welfareDecile must lie within 1-10")
        conditions.append(Household.welfare_decile.between(low_n, high_n))
    if "programme" in filters:
        if filters["programme"] not in PROGRAMMES:
            raise DataApiError(400, f"query.programme must be one of {', '.join(PROGRAMMES)}")
        conditions.append(
            Household.id.in_(
                select(Enrolment.household_id).where(
                    Enrolment.programme == filters["programme"], Enrolment.status == "active"
                )
            )
        )
    if "memberNik" in filters:
        conditions.append(
            Household.id.in_(select(Member.household_id).where(Member.nik == filters["memberNik"]))
        )
    if search is not None:
        field = search_field or "address"
        if field not in SEARCHABLE:
            raise DataApiError(400, f"filter must be one of {', '.join(SEARCHABLE)}")
        if not 1 <= len(search) <= 100:
            raise DataApiError(400, "search must be 1-100 characters")
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(func.lower(SEARCHABLE[field]).like(f"%{escaped.lower()}%", escape="\\"))
    elif search_field is not None:
        raise DataApiError(400, "filter names the field that search looks in; give search too")
    count = session.scalar(select(func.count()).select_from(Household).where(*conditions)) or 0
    order = Household.kk_number.desc() if descending else Household.kk_number
    rows = session.scalars(
        _loaded().where(*conditions).order_by(order).offset((page - 1) * size).limit(size)
    ).all()
    return count, list(rows)


def counts(*, session: Session) -> dict[str, int]:
    """Households, members and active enrolments in the register."""
    return {
        "households": session.scalar(select(func.count()).select_from(Household)) or 0,
        "members": session.scalar(select(func.count()).select_from(Member)) or 0,
        "active enrolments": session.scalar(
            select(func.count()).select_from(Enrolment).where(Enrolment.status == "active")
        )
        or 0,
    }
