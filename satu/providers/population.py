"""Dukcapil's population register as a provider backend (GovStack Data API).

Two registries, version 1.0, over the identity domain's residents (read-only, through
`satu.identity.service`):

- `penduduk` (residents, by NIK): `read`/`exists` with `{"nik": ..., ...}` — every other field
  given must match too, so `exists` verifies a name and birth date without disclosing them;
  `list` only within one family card (`query.kkNumber`): the register is never listed or
  searched in bulk. A NIK is looked up only in a POST body (`read`/`exists`), never in a URL:
  URLs end up in access logs, proxies and traces, and a NIK is personal data (`query.nik` is
  refused with 400).
- `keluarga` (family cards, by KK number): the card and its members.

`create` and `update` are refused (403): the population register is written only by Dukcapil's
civil registration, where an officer checks the documents the law requires (UU 23/2006 jo.
UU 24/2013 on population administration) — never by another agency's system over the exchange.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker

from satu.identity import service as identity
from satu.providers.dataapi import (
    DataApiError,
    ListPage,
    RegistryOps,
    data_api_app,
    list_query,
    page_answer,
    paging,
    validate_content,
)

VERSION = "1.0"
NIK = r"^\d{16}$"
READ_ONLY = (
    "The population register is not written through the exchange: births, deaths, moves and "
    "family-card changes are registered by Dukcapil's civil registration officers, who check "
    "the documents UU 23/2006 jo. UU 24/2013 requires."
)


class Region(BaseModel):
    code: str
    name: str | None = None


class Address(BaseModel):
    line: str
    rt: str | None = None
    rw: str | None = None
    village: Region
    district: Region
    regency: Region
    province: Region


class Person(BaseModel):
    """A resident as the population register shows them to other agencies."""

    nik: str
    fullName: str
    birthPlace: str
    birthDate: date
    sex: str = Field(description="F or M")
    status: str = Field(description="alive or deceased")
    diedOn: date | None = None
    kkNumber: str
    familyRelation: str
    fatherNik: str | None = None
    motherNik: str | None = None
    address: Address


class FamilyMember(BaseModel):
    nik: str
    fullName: str
    familyRelation: str
    birthDate: date
    sex: str
    status: str


class FamilyCard(BaseModel):
    """A family card (Kartu Keluarga) and everyone on it, head first."""

    kkNumber: str
    address: Address | None = None
    members: list[FamilyMember]


class PersonMatch(BaseModel):
    """`query.content` for residents: the NIK, and optionally fields that must match."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    nik: str = Field(pattern=NIK)
    fullName: str | None = Field(None, min_length=1, max_length=200)
    birthDate: date | None = None
    birthPlace: str | None = Field(None, min_length=1, max_length=100)
    sex: str | None = Field(None, pattern=r"^[FM]$")
    status: str | None = Field(None, pattern=r"^(alive|deceased)$")
    kkNumber: str | None = Field(None, pattern=NIK)


class FamilyMatch(BaseModel):
    """`query.content` for family cards."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kkNumber: str = Field(pattern=NIK)


@contextmanager
def _session(request: Request) -> Iterator[Session]:
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.rollback()  # read-only: nothing is ever committed here
        session.close()


def _person(resident: Any) -> dict[str, Any]:
    return Person(
        nik=resident.nik,
        fullName=resident.full_name,
        birthPlace=resident.birth_place,
        birthDate=resident.birth_date,
        sex=resident.sex,
        status=resident.status,
        diedOn=resident.died_on,
        kkNumber=resident.kk_number,
        familyRelation=resident.family_relation,
        fatherNik=resident.father_nik,
        motherNik=resident.mother_nik,
        address=Address.model_validate(resident.address.model_dump()),
    ).model_dump(mode="json")


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _matches(person: dict[str, Any], match: PersonMatch) -> bool:
    for field, wanted in match.model_dump(exclude_none=True, mode="json").items():
        have = person.get(field)
        if isinstance(wanted, str) and isinstance(have, str):
            if not _same_text(have, wanted):
                return False
        elif have != wanted:
            return False
    return True


def _find_person(request: Request, content: dict[str, Any]) -> dict[str, Any] | None:
    match = validate_content(PersonMatch, content, where="query")
    with _session(request) as session:
        resident = identity.find_resident(session=session, nik=match.nik)
    if resident is None:
        return None
    person = _person(resident)
    return person if _matches(person, match) else None


def _person_exists(request: Request, content: dict[str, Any]) -> tuple[bool, str]:
    found = _find_person(request, content) is not None
    return found, "Resident found" if found else "No resident matches"


def _family(session: Session, kk_number: str) -> dict[str, Any] | None:
    members = identity.family_members(session=session, kk_number=kk_number)
    if not members:
        return None
    head = identity.find_resident(session=session, nik=members[0].nik)
    return FamilyCard(
        kkNumber=kk_number,
        address=Address.model_validate(head.address.model_dump()) if head else None,
        members=[
            FamilyMember(
                nik=m.nik,
                fullName=m.full_name,
                familyRelation=m.family_relation,
                birthDate=m.birth_date,
                sex=m.sex,
                status=m.status,
            )
            for m in members
        ],
    ).model_dump(mode="json")


def _find_family(request: Request, content: dict[str, Any]) -> dict[str, Any] | None:
    match = validate_content(FamilyMatch, content, where="query")
    with _session(request) as session:
        return _family(session, match.kkNumber)


def _family_exists(request: Request, content: dict[str, Any]) -> tuple[bool, str]:
    found = _find_family(request, content) is not None
    return found, "Family card found" if found else "No family card has this number"


def _no_bulk(request: Request) -> None:
    if request.query_params.get("search") is not None or request.query_params.get("filter"):
        raise DataApiError(
            400,
            "the population register is not searched in bulk; give query.kkNumber",
        )


NIK_NOT_IN_URLS = (
    "a NIK is never sent in a URL (URLs are kept in logs): look a resident up with "
    'POST /data/penduduk/1.0/read or /exists and {"query": {"content": {"nik": "..."}}}'
)


def _list_people(request: Request) -> ListPage:
    if "query.nik" in request.query_params:
        raise DataApiError(400, NIK_NOT_IN_URLS)
    _no_bulk(request)
    query = list_query(request, {"kkNumber"})
    page, size, descending = paging(request)
    if not query:
        raise DataApiError(
            400,
            "give query.kkNumber (everyone on a family card): "
            "the population register is never listed in bulk",
        )
    validate_content(FamilyMatch, query, where="query")
    with _session(request) as session:
        people = []
        for member in identity.family_members(session=session, kk_number=query["kkNumber"]):
            resident = identity.find_resident(session=session, nik=member.nik)
            if resident is not None and resident.kk_number == query["kkNumber"]:
                people.append(_person(resident))
    if descending:
        people.reverse()
    chunk = people[(page - 1) * size : page * size]
    return page_answer(request, count=len(people), results=chunk, page=page, size=size)


def _list_families(request: Request) -> ListPage:
    _no_bulk(request)
    query = list_query(request, {"kkNumber"})
    page, size, _descending = paging(request)
    if "kkNumber" not in query:
        raise DataApiError(400, "give query.kkNumber: family cards are never listed in bulk")
    validate_content(FamilyMatch, query, where="query")
    with _session(request) as session:
        family = _family(session, query["kkNumber"])
    results = [family] if family and page == 1 else []
    return page_answer(request, count=1 if family else 0, results=results, page=page, size=size)


def _refuse_write(*_args: Any) -> dict[str, Any]:
    raise DataApiError(403, READ_ONLY)


def create_population_app(*, factory: sessionmaker[Session]) -> FastAPI:
    """The population register's Data API over Satu's residents (`factory`: Satu's sessions).

    Bare: `satu.providers.service` puts it behind the signature door before serving it.
    """
    return data_api_app(
        title="Dukcapil — Population register (Data API)",
        version=VERSION,
        summary="Residents by NIK and family cards, for agencies through Satu's exchange.",
        description=__doc__,
        factory=factory,
        registries=[
            RegistryOps(
                name="penduduk",
                version=VERSION,
                title="Residents (penduduk)",
                record=Person,
                read=_find_person,
                exists=_person_exists,
                list_=_list_people,
                create=_refuse_write,
                update=_refuse_write,
                list_fields=("kkNumber",),
            ),
            RegistryOps(
                name="keluarga",
                version=VERSION,
                title="Family cards (keluarga)",
                record=FamilyCard,
                read=_find_family,
                exists=_family_exists,
                list_=_list_families,
                create=_refuse_write,
                update=_refuse_write,
                list_fields=("kkNumber",),
            ),
        ],
    )
