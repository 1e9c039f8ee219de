"""Working days with Indonesian public holidays and cuti bersama."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from satu.complaints import deadlines
from satu.complaints.calendar import CalendarError, WorkingCalendar, load_holidays, local_date
from satu.complaints.config import DATA_DIR


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar(load_holidays(DATA_DIR / "holidays.csv"))


def test_every_year_2025_to_2027_has_its_fixed_holidays(calendar: WorkingCalendar) -> None:
    for year in (2025, 2026, 2027):
        for month, day in ((1, 1), (5, 1), (6, 1), (8, 17), (12, 25)):
            assert date(year, month, day) in calendar.holidays


def test_weekends_and_holidays_are_not_working_days(calendar: WorkingCalendar) -> None:
    assert calendar.is_working_day(date(2026, 3, 17))  # Tuesday
    assert not calendar.is_working_day(date(2026, 3, 18))  # cuti bersama Nyepi
    assert not calendar.is_working_day(date(2026, 3, 19))  # Nyepi
    assert not calendar.is_working_day(date(2026, 3, 21))  # Saturday, Idulfitri
    assert not calendar.is_working_day(date(2026, 3, 14))  # Saturday


def test_three_working_days_across_lebaran_2026(calendar: WorkingCalendar) -> None:
    # Filed Tuesday 17 March 2026: 18-24 March are Nyepi, Idulfitri and cuti bersama.
    assert calendar.add_working_days(date(2026, 3, 17), 3) == date(2026, 3, 27)


def test_five_working_days_in_an_ordinary_week(calendar: WorkingCalendar) -> None:
    assert calendar.add_working_days(date(2026, 11, 2), 5) == date(2026, 11, 9)


def test_working_days_between(calendar: WorkingCalendar) -> None:
    assert calendar.working_days_between(date(2026, 3, 17), date(2026, 3, 27)) == 3
    assert calendar.working_days_between(date(2026, 3, 27), date(2026, 3, 17)) == 0


def test_deadlines_use_jakarta_dates() -> None:
    # 20:00 UTC on Monday is already Tuesday 03:00 in Jakarta.
    moment = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)
    assert local_date(moment) == date(2026, 11, 3)
    assert deadlines.verify_due(moment) == date(2026, 11, 6)
    assert deadlines.followup_due(moment) == date(2026, 11, 10)
    assert deadlines.settle_due(moment) == date(2027, 1, 2)
    assert deadlines.autoclose_due(moment) == date(2026, 11, 17)


def test_a_configured_calendar_replaces_the_built_in_one(tmp_path: Path) -> None:
    path = tmp_path / "libur.csv"
    path.write_text("date,kind,name\n2026-11-04,holiday,Libur daerah\n", encoding="utf-8")
    calendar = WorkingCalendar(load_holidays(path))
    assert calendar.add_working_days(date(2026, 11, 2), 3) == date(2026, 11, 6)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("day,kind,name\n", "header"),
        ("date,kind,name\n2026-02-30,holiday,x\n", ":2: bad date"),
        ("date,kind,name\n2026-02-03,holiday,x\n2026-02-04,party,y\n", ":3: kind"),
    ],
)
def test_a_broken_calendar_is_refused_with_its_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / f"bad{abs(hash(content))}.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CalendarError, match=message):
        load_holidays(path)
