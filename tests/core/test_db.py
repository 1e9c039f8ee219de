"""`UTCDateTime` and the unit of work, on the suite's real database (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import StatementError

from satu.core.db import UTCDateTime, make_sessionmaker, transaction, utcnow

WIB = timezone(timedelta(hours=7), "WIB")
WIT = timezone(timedelta(hours=9), "WIT")

metadata = MetaData()
moments = Table(
    "probe_moments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=True),
)


@pytest.fixture
def table_engine(scratch_engine: Engine) -> Engine:
    metadata.create_all(scratch_engine)
    return scratch_engine


def test_utcnow_is_aware_utc() -> None:
    now = utcnow()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2025, 8, 17, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(2025, 8, 17, 17, 0, 0, tzinfo=WIB),
        datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=WIT),
        datetime(1945, 8, 17, 10, 0, tzinfo=WIB),
    ],
)
def test_round_trip_is_the_same_instant_in_utc(table_engine: Engine, value: datetime) -> None:
    with table_engine.begin() as connection:
        connection.execute(insert(moments).values(id=1, at=value))
    with table_engine.connect() as connection:
        back = connection.execute(select(moments.c.at)).scalar_one()
    assert back == value
    assert back.tzinfo is UTC
    assert back.utcoffset() == timedelta(0)
    assert back.microsecond == value.microsecond


def test_null_round_trips(table_engine: Engine) -> None:
    with table_engine.begin() as connection:
        connection.execute(insert(moments).values(id=1, at=None))
        assert connection.execute(select(moments.c.at)).scalar_one() is None


def test_naive_datetimes_are_rejected(table_engine: Engine) -> None:
    with pytest.raises(StatementError) as caught, table_engine.begin() as connection:
        connection.execute(insert(moments).values(id=1, at=datetime(2025, 1, 1, 12, 0)))
    assert isinstance(caught.value.orig, ValueError)
    assert "naive" in str(caught.value.orig)
    with table_engine.connect() as connection:
        assert connection.execute(select(moments.c.id)).first() is None


def test_naive_datetimes_are_rejected_in_comparisons(table_engine: Engine) -> None:
    with pytest.raises(StatementError), table_engine.connect() as connection:
        connection.execute(select(moments).where(moments.c.at > datetime(2025, 1, 1)))


def test_comparisons_across_time_zones_order_by_instant(table_engine: Engine) -> None:
    # 08:00 WIB is 01:00 UTC: earlier than 02:00 UTC although its wall clock is later.
    early_wib = datetime(2025, 1, 1, 8, 0, tzinfo=WIB)
    later_utc = datetime(2025, 1, 1, 2, 0, tzinfo=UTC)
    with table_engine.begin() as connection:
        connection.execute(
            insert(moments), [{"id": 1, "at": later_utc}, {"id": 2, "at": early_wib}]
        )
    with table_engine.connect() as connection:
        ordered = connection.execute(select(moments.c.id).order_by(moments.c.at)).scalars().all()
        after = connection.execute(
            select(moments.c.id).where(moments.c.at > datetime(2025, 1, 1, 8, 30, tzinfo=WIB))
        ).scalars()
        assert ordered == [2, 1]
        assert list(after) == [1]


def test_transaction_commits_on_success_and_rolls_back_on_error(table_engine: Engine) -> None:
    factory = make_sessionmaker(table_engine)
    with transaction(factory) as session:
        session.execute(insert(moments).values(id=1, at=utcnow()))
    with pytest.raises(RuntimeError), transaction(factory) as session:
        session.execute(insert(moments).values(id=2, at=utcnow()))
        raise RuntimeError("abort")
    with table_engine.connect() as connection:
        assert connection.execute(select(moments.c.id)).scalars().all() == [1]


def test_sqlite_enforces_foreign_keys(table_engine: Engine) -> None:
    if table_engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragma check")
    with table_engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
