"""The DTKS register's own tables (its own MetaData and database; not in Satu's migrations)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from satu.core.db import UTCDateTime, utcnow

# Programme code -> (official name, who benefits: the household or one member, highest
# welfare decile eligible). Deciles follow Kemensos' targeting of the poorest 40% (PKH,
# Sembako) and 50% (PBI-JK); a demo rule, not a policy statement.
PROGRAMMES: dict[str, tuple[str, str, int]] = {
    "PKH": ("Program Keluarga Harapan", "household", 4),
    "BPNT": ("Bantuan Pangan Non-Tunai (Program Sembako)", "household", 4),
    "PIP": ("Program Indonesia Pintar", "member", 4),
    "PBI-JK": ("Penerima Bantuan Iuran Jaminan Kesehatan (KIS-PBI)", "member", 5),
}


class DtksBase(DeclarativeBase):
    """Base of the DTKS tables: a metadata of its own, apart from Satu's."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Household(DtksBase):
    """A household, identified by its family card (KK) number."""

    __tablename__ = "dtks_household"
    __table_args__ = (CheckConstraint("welfare_decile BETWEEN 1 AND 10", name="decile"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kk_number: Mapped[str] = mapped_column(String(16), unique=True)
    region_code: Mapped[str] = mapped_column(String(13), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    welfare_decile: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[Member]] = relationship(
        back_populates="household", cascade="all, delete-orphan", order_by="Member.id"
    )
    enrolments: Mapped[list[Enrolment]] = relationship(
        back_populates="household", cascade="all, delete-orphan", order_by="Enrolment.id"
    )


class Member(DtksBase):
    """A household member (a NIK belongs to at most one household)."""

    __tablename__ = "dtks_member"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("dtks_household.id", ondelete="CASCADE"), index=True
    )
    nik: Mapped[str] = mapped_column(String(16), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    relation: Mapped[str] = mapped_column(String(10))

    household: Mapped[Household] = relationship(back_populates="members")


class Enrolment(DtksBase):
    """A household's (or one member's) enrolment in a programme."""

    __tablename__ = "dtks_enrolment"
    __table_args__ = (UniqueConstraint("household_id", "programme", "beneficiary_nik"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("dtks_household.id", ondelete="CASCADE"), index=True
    )
    programme: Mapped[str] = mapped_column(String(10), index=True)
    beneficiary_nik: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(10), default="active")
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)

    household: Mapped[Household] = relationship(back_populates="enrolments")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def dtks_engine(url: str) -> Engine:
    """An engine on the DTKS database, its tables created if missing."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    DtksBase.metadata.create_all(engine)
    return engine
