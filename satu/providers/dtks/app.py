"""The DTKS register's Data API: registry `rumah-tangga` (households), version 1.0.

- `read` / `exists` with `{"kkNumber": ...}` or `{"memberNik": ...}` (plus `welfareDecile`,
  `regionCode`, `programme` = an active enrolment, all of which must match);
- `list` with `query.regionCode` (a region or its prefix: `32.73` is Kota Bandung),
  `query.welfareDecile` (`3` or `1-4`), `query.programme`, `query.memberNik`; `search` looks
  (case-insensitively, as a substring: no regular expressions) in the field `filter` names
  (`address`, `kkNumber`, `regionCode`; default `address`); ordered by KK number;
- `create` a household with members and enrolments; `update` one found by `query`, with
  `write.content` holding the fields to change (lists replace the stored ones whole). Every
  rule (one head, members in one household only, programme eligibility by decile, PIP age
  6-21, dates) is checked on the whole resulting record; nothing is half-stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

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
from satu.providers.dtks import registry
from satu.providers.dtks.registry import HouseholdIn, HouseholdMatch, HouseholdPatch

VERSION = "1.0"


class MemberOut(BaseModel):
    nik: str
    fullName: str
    relation: str


class EnrolmentOut(BaseModel):
    programme: str
    programmeName: str
    beneficiaryNik: str | None = None
    status: str
    startDate: str
    endDate: str | None = None


class Household(BaseModel):
    """A DTKS household record."""

    kkNumber: str
    regionCode: str
    address: str
    welfareDecile: int
    members: list[MemberOut]
    enrolments: list[EnrolmentOut]
    updatedAt: str


@contextmanager
def _unit(request: Request) -> Iterator[Session]:
    """One DTKS transaction: committed when the operation succeeds, else rolled back."""
    session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _read(request: Request, content: dict[str, Any]) -> dict[str, Any] | None:
    match = validate_content(HouseholdMatch, content, where="query")
    with _unit(request) as session:
        household = registry.find(session=session, match=match)
        return registry.record(household) if household is not None else None


def _exists(request: Request, content: dict[str, Any]) -> tuple[bool, str]:
    found = _read(request, content) is not None
    return found, "Household found in DTKS" if found else "No household matches"


def _list(request: Request) -> ListPage:
    filters = list_query(request, set(registry.LIST_FIELDS))
    page, size, descending = paging(request)
    with _unit(request) as session:
        count, rows = registry.listing(
            session=session,
            filters=filters,
            search=request.query_params.get("search"),
            search_field=request.query_params.get("filter"),
            page=page,
            size=size,
            descending=descending,
        )
        results = [registry.record(h) for h in rows]
    return page_answer(request, count=count, results=results, page=page, size=size)


def _create(request: Request, content: dict[str, Any]) -> dict[str, Any]:
    data = validate_content(HouseholdIn, content, where="write")
    with _unit(request) as session:
        return registry.record(registry.create(session=session, data=data))


def _update(
    request: Request, query: dict[str, Any] | None, content: dict[str, Any]
) -> dict[str, Any]:
    if query is None:
        raise DataApiError(400, "update needs query.content naming the household (kkNumber)")
    match = validate_content(HouseholdMatch, query, where="query")
    patch = validate_content(HouseholdPatch, content, where="write")
    with _unit(request) as session:
        household = registry.find(session=session, match=match)
        if household is None:
            raise DataApiError(404, "no record found")
        merged = {
            **{
                k: v for k, v in registry.record(household).items() if k in HouseholdIn.model_fields
            },
            **patch.model_dump(exclude_unset=True),
        }
        for enrolment in merged["enrolments"]:
            enrolment.pop("programmeName", None)
        data = validate_content(HouseholdIn, merged, where="write")
        return registry.record(registry.update(session=session, household=household, data=data))


def create_dtks_app(*, factory: sessionmaker[Session]) -> FastAPI:
    """The DTKS register's Data API on its own database (`factory`: DTKS sessions).

    Bare: `satu.providers.service` puts it behind the signature door before serving it.
    """
    return data_api_app(
        title="Kemensos — DTKS social-assistance register (Data API)",
        version=VERSION,
        summary="Households, welfare deciles and programme enrolments (PKH, Sembako, PIP, PBI-JK).",
        description=__doc__,
        factory=factory,
        registries=[
            RegistryOps(
                name="rumah-tangga",
                version=VERSION,
                title="Households (rumah tangga)",
                record=Household,
                read=_read,
                exists=_exists,
                list_=_list,
                create=_create,
                update=_update,
                list_fields=registry.LIST_FIELDS,
            )
        ],
    )
