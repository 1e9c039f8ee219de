"""Identity data shapes exchanged with other domains, templates and the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from satu.core.nik import NikStr

ACR_PWD = "urn:satu:acr:pwd"  # noqa: S105
ACR_PWD_TOTP = "urn:satu:acr:pwd-totp"  # noqa: S105
ACR_LEVELS = (ACR_PWD, ACR_PWD_TOTP)

Acr = Literal["urn:satu:acr:pwd", "urn:satu:acr:pwd-totp"]
Sex = Literal["F", "M"]
ResidentStatus = Literal["alive", "deceased"]
FamilyRelation = Literal["head", "spouse", "child", "parent", "other"]
ScopedRole = Literal["officer", "verifier", "agency_admin"]
GlobalRole = Literal["admin", "ministry_observer"]
Role = Literal["officer", "verifier", "agency_admin", "admin", "ministry_observer"]
SCOPED_ROLES: tuple[str, ...] = ("officer", "verifier", "agency_admin")
GLOBAL_ROLES: tuple[str, ...] = ("admin", "ministry_observer")


class LoginInfo(BaseModel):
    """Who is signed in on this browser, and how strongly."""

    model_config = ConfigDict(frozen=True)

    account_id: str
    resident_nik: str
    acr: Acr
    amr: list[str]
    auth_time: datetime
    login_session_id: str


class RegionRef(BaseModel):
    """A region code with its name."""

    code: str
    name: str | None = None


class Address(BaseModel):
    """A resident's address, down to the village, with region names."""

    line: str
    rt: str | None = None
    rw: str | None = None
    village: RegionRef
    district: RegionRef
    regency: RegionRef
    province: RegionRef


class ResidentIn(BaseModel):
    """What registering a resident needs; the NIK must agree with birth date and sex."""

    model_config = ConfigDict(str_strip_whitespace=True)

    nik: NikStr
    full_name: str = Field(min_length=2, max_length=200)
    birth_place: str = Field(min_length=2, max_length=100)
    birth_date: date
    sex: Sex
    address_line: str = Field("", max_length=300)
    rt: str | None = Field(None, pattern=r"^\d{1,3}$")
    rw: str | None = Field(None, pattern=r"^\d{1,3}$")
    village_code: str = Field(pattern=r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")
    kk_number: str = Field(pattern=r"^\d{16}$")
    family_relation: FamilyRelation = "head"
    father_nik: NikStr | None = None
    mother_nik: NikStr | None = None
    phone: str | None = Field(None, pattern=r"^\+62\d{8,13}$")
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    @field_validator("full_name", "birth_place")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(not ch.isprintable() for ch in value):
            raise ValueError("must not contain control characters")
        return " ".join(value.split())


class ResidentOut(BaseModel):
    """A resident as the register knows them."""

    nik: str
    full_name: str
    birth_place: str
    birth_date: date
    sex: Sex
    address: Address
    kk_number: str
    family_relation: str
    father_nik: str | None = None
    mother_nik: str | None = None
    status: ResidentStatus
    died_on: date | None = None
    phone_masked: str | None = None
    email_masked: str | None = None


class FamilyMember(BaseModel):
    """A member of a family card (KK)."""

    nik: str
    full_name: str
    family_relation: str
    birth_date: date
    sex: Sex
    status: ResidentStatus


class RoleGrantOut(BaseModel):
    """A role an account holds, scoped to an agency or global."""

    id: str
    account_id: str
    role: Role
    agency_id: str | None = None
    granted_by: str | None = None
    granted_at: datetime


class AccountOut(BaseModel):
    """A sign-in account."""

    id: str
    resident_nik: str
    status: Literal["active", "disabled"]
    totp_enabled: bool
    created_at: datetime
    password_changed_at: datetime
    last_login_at: datetime | None = None
    roles: list[RoleGrantOut] = []


class OfficerContext(BaseModel):
    """An officer's account and the agencies their roles cover."""

    account_id: str
    resident_nik: str
    grants: list[RoleGrantOut]
    agency_ids: list[str]
    is_admin: bool = False

    @property
    def agency_id(self) -> str | None:
        """The agency when the officer serves exactly one."""
        return self.agency_ids[0] if len(self.agency_ids) == 1 else None

    def roles_at(self, agency_id: str) -> set[str]:
        """The roles this officer holds at `agency_id`."""
        return {g.role for g in self.grants if g.agency_id == agency_id}


class SessionOut(BaseModel):
    """A browser sign-in as shown on the sessions page."""

    id: str
    acr: str
    amr: list[str]
    auth_time: datetime
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None = None
    user_agent: str | None = None
    current: bool = False


class AuditEventOut(BaseModel):
    """One audit record."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None = None
    ip: str | None = None
    detail: dict[str, object] | None = None


class SeedResult(BaseModel):
    """What `seed_residents` produced."""

    residents: int
    families: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.residents / self.seconds if self.seconds > 0 else 0.0


class AccessTokenInfo(BaseModel):
    """A valid access token issued by Satu's provider, as another domain may rely on it."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    agency_id: str
    scopes: list[str]
    # The pairwise subject of the resident the token speaks for; None for client_credentials.
    subject: str | None = None
    expires_at: datetime
    # The DPoP key thumbprint (`cnf.jkt`) when the token is DPoP-bound: the caller must then
    # check a DPoP proof made with that key.
    jkt: str | None = None


class ConsentInfo(BaseModel):
    """A resident's standing consent to share data with one client (service) of an agency."""

    model_config = ConfigDict(frozen=True)

    consent_id: str
    client_id: str
    scopes: list[str]
    granted_at: datetime
