"""Working days: Monday to Friday, minus Indonesian public holidays and cuti bersama.

The calendar is data (`data/holidays.csv`, or `SATU_COMPLAINTS_HOLIDAYS_FILE`): the government
fixes each year's dates by joint ministerial decree (SKB 3 Menteri), so they are configured,
not computed. Dates marked "perkiraan" are provisional until the decree is published.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


@dataclass(frozen=True)
class Holiday:
    """One day off for the civil service."""

    day: date
    kind: str
    name: str


class CalendarError(ValueError):
    """The holiday file is malformed."""


@lru_cache(maxsize=8)
def load_holidays(path: Path) -> dict[date, Holiday]:
    """Read a `date,kind,name` CSV, refusing malformed rows with their line number."""
    holidays: dict[date, Holiday] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != ["date", "kind", "name"]:
            raise CalendarError(f"{path}: header must be date,kind,name")
        for line, row in enumerate(reader, start=2):
            try:
                day = date.fromisoformat(row["date"])
            except (TypeError, ValueError) as exc:
                raise CalendarError(f"{path}:{line}: bad date {row['date']!r}") from exc
            if row["kind"] not in ("holiday", "cuti_bersama"):
                raise CalendarError(f"{path}:{line}: kind must be holiday or cuti_bersama")
            holidays[day] = Holiday(day, row["kind"], row["name"])
    return holidays


class WorkingCalendar:
    """Working-day arithmetic over a set of days off."""

    def __init__(self, holidays: dict[date, Holiday]) -> None:
        self.holidays = holidays

    def is_working_day(self, day: date) -> bool:
        """Monday-Friday and not a holiday or cuti bersama."""
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The date `days` working days after `start` (the day of `start` itself not counted)."""
        current = start
        remaining = days
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count


def local_date(moment: datetime) -> date:
    """The calendar date in Jakarta time of an aware datetime."""
    return moment.astimezone(JAKARTA).date()


def calendar_from(path: Path) -> WorkingCalendar:
    """A working calendar from a holiday file."""
    return WorkingCalendar(load_holidays(path))
