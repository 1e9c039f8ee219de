"""Data shapes of Satu Data that cross module and HTTP boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RegionKind = Literal["province", "regency", "city", "district", "kelurahan", "desa"]

MAX_PAGE_LIMIT = 100
MAX_PAGE_OFFSET = 100_000
MAX_NIK_BATCH = 1000


class Population(BaseModel):
    """Population of a province or regency/city."""

    male: int
    female: int
    total: int


class RegionLinks(BaseModel):
    """Where to go from a region."""

    self: str
    children: str | None = None
    parent: str | None = None


class RegionOut(BaseModel):
    """One administrative region as callers see it."""

    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    level: int = Field(ge=1, le=4, description="1 province, 2 regency/city, 3 district, 4 village")
    kind: RegionKind
    parent_code: str | None
    population: Population | None = None

    def api_links(self) -> RegionLinks:
        """API links of this region."""
        base = f"/api/v1/regions/{self.code}"
        return RegionLinks(
            self=base,
            children=f"/api/v1/regions?parent={self.code}" if self.level < 4 else None,
            parent=f"/api/v1/regions/{self.parent_code}" if self.parent_code else None,
        )


class RegionItem(RegionOut):
    """A region in an API response, with its links."""

    links: RegionLinks

    @classmethod
    def of(cls, region: RegionOut) -> RegionItem:
        """The API item for `region`."""
        return cls(**region.model_dump(), links=region.api_links())


class RegionDetail(RegionItem):
    """One region with the chain of regions above it."""

    ancestors: list[RegionOut]
    children_count: int


class Page(BaseModel):
    """A page of regions."""

    items: list[RegionOut]
    total: int
    limit: int
    offset: int


class RegionPage(BaseModel):
    """A page of regions as the API answers it."""

    items: list[RegionItem]
    total: int
    limit: int
    offset: int
    next: str | None


class CodeName(BaseModel):
    """A region reference: its code and (when known) its name."""

    code: str
    name: str | None


class NikDistrict(BaseModel):
    """The district a NIK was first registered in, with the regions above it."""

    code: str
    name: str | None
    retired: bool
    regency: CodeName
    province: CodeName


class NikDetails(BaseModel):
    """The parts of a valid NIK."""

    nik: str
    district: NikDistrict
    birth_date: date
    sex: Literal["F", "M"]
    serial: str


class NikError(BaseModel):
    """One faulty part of a NIK."""

    part: Literal["format", "district", "birth_date", "serial"]
    message: str
    message_id: str


class NikBatchRequest(BaseModel):
    """NIKs to check in one call."""

    model_config = ConfigDict(extra="forbid")

    niks: list[str] = Field(min_length=1, max_length=MAX_NIK_BATCH)


class NikBatchItem(BaseModel):
    """The verdict on one NIK of a batch."""

    nik: str
    valid: bool
    details: NikDetails | None = None
    errors: list[NikError] = Field(default_factory=list)


class NikBatchResult(BaseModel):
    """Verdicts, in the order the NIKs were given."""

    valid: int
    invalid: int
    items: list[NikBatchItem]


@dataclass
class TableCounts:
    """What a load did to one table."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class LoadReport:
    """What `load_regions` did."""

    regions: TableCounts = field(default_factory=TableCounts)
    retired_districts: TableCounts = field(default_factory=TableCounts)
    deleted: int = 0
    """Regions no longer in the files, deleted because nothing referred to them."""
    kept: int = 0
    """Regions no longer in the files but kept because something still refers to them."""
    seconds: float = 0.0

    @property
    def inserted(self) -> int:
        return self.regions.inserted + self.retired_districts.inserted

    @property
    def updated(self) -> int:
        return self.regions.updated + self.retired_districts.updated

    @property
    def unchanged(self) -> int:
        return self.regions.unchanged + self.retired_districts.unchanged
