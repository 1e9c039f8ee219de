"""Data shapes of the agency registry that cross module and HTTP boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

AgencyKind = Literal["ministry", "agency", "province", "regency", "city", "unit"]
AGENCY_KINDS: tuple[str, ...] = get_args(AgencyKind)
LOCAL_GOVERNMENT_KINDS: tuple[str, ...] = ("province", "regency", "city")

AGENCY_ID_PATTERN = r"^[a-z0-9][a-z0-9.\-]{0,63}$"
REGION_CODE_PATTERN = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"
MAX_AGENCY_PAGE_LIMIT = 100
MAX_AGENCY_PAGE_OFFSET = 100_000
MAX_QUERY_LENGTH = 100


class AgencyRef(BaseModel):
    """A short reference to an agency: enough to name and link it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    short_name: str | None
    kind: AgencyKind


class AgencyOut(BaseModel):
    """One government organisation as callers see it."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    name: str
    name_en: str | None
    short_name: str | None
    kind: AgencyKind
    parent_id: str | None
    region_code: str | None
    website: str | None
    member_class: str | None
    member_code: str | None
    active: bool

    def ref(self) -> AgencyRef:
        """The short reference to this agency."""
        return AgencyRef(id=self.id, name=self.name, short_name=self.short_name, kind=self.kind)

    def api_links(self) -> AgencyLinks:
        """API links of this agency."""
        return AgencyLinks(
            self=f"/api/v1/agencies/{self.id}",
            parent=f"/api/v1/agencies/{self.parent_id}" if self.parent_id else None,
            children=f"/api/v1/agencies?parent={self.id}",
            region=f"/api/v1/regions/{self.region_code}" if self.region_code else None,
        )


class AgencyLinks(BaseModel):
    """Where to go from an agency."""

    self: str
    parent: str | None
    children: str
    region: str | None


class AgencyItem(AgencyOut):
    """An agency in an API response, with its links."""

    links: AgencyLinks

    @classmethod
    def of(cls, agency: AgencyOut) -> AgencyItem:
        """The API item for `agency`."""
        return cls(**agency.model_dump(), links=agency.api_links())


class AgencyRegion(BaseModel):
    """The region an agency governs or serves."""

    code: str
    name: str
    level: int
    kind: str


class AgencyDetail(AgencyItem):
    """One agency with its parent, the chain above it, its children and its region."""

    parent: AgencyRef | None
    ancestors: list[AgencyRef]
    children_count: int
    region: AgencyRegion | None


class AgencyPage(BaseModel):
    """A page of agencies."""

    items: list[AgencyOut]
    total: int
    limit: int
    offset: int


class AgencyItemPage(BaseModel):
    """A page of agencies as the API answers it."""

    items: list[AgencyItem]
    total: int
    limit: int
    offset: int
    next: str | None


@dataclass
class AgencyLoadReport:
    """What `load_agencies` did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    unlisted: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Agencies the loader manages (inserted, updated or unchanged)."""
        return self.inserted + self.updated + self.unchanged
