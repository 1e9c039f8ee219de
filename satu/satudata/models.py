"""Reference-data tables: regions (Kode Wilayah), retired district codes, agencies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from satu.core.db import Base, UTCDateTime, utcnow


class Region(Base):
    """An administrative region: province, regency/city, district or village."""

    __tablename__ = "satudata_region"

    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_search: Mapped[str] = mapped_column(String(200), index=True)
    level: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(
        String(13), ForeignKey("satudata_region.code"), index=True
    )
    population_male: Mapped[int | None] = mapped_column(BigInteger)
    population_female: Mapped[int | None] = mapped_column(BigInteger)
    population_total: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_satudata_region_level_code", "level", "code"),
        # PostgreSQL-only search indexes, created by migration 0001 (see
        # satu.core.migrations.include_object): autogenerate must not drop them.
        {
            "info": {
                "database_only_indexes": (
                    "ix_satudata_region_code_pattern",
                    "ix_satudata_region_name_search_pattern",
                    "ix_satudata_region_name_search_trgm",
                )
            }
        },
    )


class RetiredDistrict(Base):
    """A district code from an older edition that NIKs may still carry."""

    __tablename__ = "satudata_retired_district"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    last_seen_in: Mapped[int] = mapped_column(Integer)


class Agency(Base):
    """A government organisation: ministry or agency (K/L), local government, or a unit."""

    __tablename__ = "satudata_agency"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    short_name: Mapped[str | None] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    parent_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("satudata_agency.id"), index=True
    )
    region_code: Mapped[str | None] = mapped_column(
        String(13), ForeignKey("satudata_region.code"), index=True
    )
    website: Mapped[str | None] = mapped_column(String(300))
    # X-Road style member identity for the data exchange (units are subsystems, so NULL).
    member_class: Mapped[str | None] = mapped_column(String(16))
    member_code: Mapped[str | None] = mapped_column(String(64))
    sort: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("member_class", "member_code"),)
