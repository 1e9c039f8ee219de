"""The NIK (Nomor Induk Kependudukan), Indonesia's 16-digit resident number, as a value type.

Layout `PPKKCC DDMMYY SSSS`: district code of first registration, birth date (day + 40 for
women; century not encoded), serial from 0001. There is no check digit: a NIK is valid in form
when its district code is known (current or retired), its date is real and its serial is not 0000.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

NikPart = Literal["format", "district", "birth_date", "serial"]
Sex = Literal["F", "M"]


@dataclass(frozen=True)
class NikIssue:
    """One wrong part of a NIK, explained in English and Indonesian."""

    part: NikPart
    message: str
    message_id: str


class InvalidNik(ValueError):
    """A NIK that is wrong in one or more parts."""

    def __init__(self, value: str, issues: list[NikIssue]) -> None:
        self.value = value
        self.issues = issues
        super().__init__("; ".join(f"{i.part}: {i.message}" for i in issues))

    @property
    def parts(self) -> list[str]:
        return [issue.part for issue in self.issues]


@dataclass(frozen=True)
class Nik:
    """A NIK whose parts have been checked."""

    value: str
    district_code: str
    birth_date: date
    sex: Sex
    serial: str

    @property
    def province_code(self) -> str:
        return self.district_code[:2]

    @property
    def regency_code(self) -> str:
        return self.district_code[:5]

    @property
    def masked(self) -> str:
        """Safe to show or log: district kept, birth date and serial hidden."""
        return self.value[:6] + "**********"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(
        cls,
        value: str,
        *,
        districts: Container[str] | None = None,
        today: date | None = None,
    ) -> Nik:
        """Parse and check `value`; `districts` holds known district codes like `11.01.01`."""
        return parse_nik(value, districts=districts, today=today)


def _district_code(digits: str) -> str:
    return f"{digits[0:2]}.{digits[2:4]}.{digits[4:6]}"


def _birth_date(day: int, month: int, yy: int, today: date) -> date | None:
    """The most recent real date with these parts that is not in the future."""
    for century in (2000, 1900):
        try:
            candidate = date(century + yy, month, day)
        except ValueError:
            continue
        if candidate <= today:
            return candidate
    return None


def _check_birth(digits: str, today: date) -> tuple[date | None, Sex | None, NikIssue | None]:
    raw_day, month, yy = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    sex: Sex = "F" if raw_day > 40 else "M"
    day = raw_day - 40 if raw_day > 40 else raw_day
    if not 1 <= month <= 12:
        return (
            None,
            None,
            NikIssue(
                "birth_date",
                f"month {digits[8:10]} does not exist (digits 9-10 must be 01-12)",
                f"bulan {digits[8:10]} tidak ada (digit 9-10 harus 01-12)",
            ),
        )
    if not (1 <= raw_day <= 31 or 41 <= raw_day <= 71):
        return (
            None,
            None,
            NikIssue(
                "birth_date",
                f"day {digits[6:8]} is not a day (01-31, or 41-71 for women)",
                f"tanggal {digits[6:8]} tidak valid (01-31, atau 41-71 untuk perempuan)",
            ),
        )
    born = _birth_date(day, month, yy, today)
    if born is None:
        return (
            None,
            None,
            NikIssue(
                "birth_date",
                f"{day:02d}-{month:02d}-{yy:02d} is not a real date",
                f"{day:02d}-{month:02d}-{yy:02d} bukan tanggal yang ada",
            ),
        )
    return born, sex, None


def parse_nik(
    value: Any, *, districts: Container[str] | None = None, today: date | None = None
) -> Nik:
    """Parse a NIK; raise `InvalidNik` listing every wrong part.

    Without `districts`, the district part is checked for form only.
    """
    text = str(value).strip() if value is not None else ""
    if len(text) != 16 or not text.isascii() or not text.isdigit():
        raise InvalidNik(
            text[:32],
            [
                NikIssue(
                    "format",
                    "a NIK is exactly 16 digits (0-9)",
                    "NIK harus terdiri dari tepat 16 angka (0-9)",
                )
            ],
        )
    today = today or datetime.now(UTC).date()
    issues: list[NikIssue] = []
    district = _district_code(text)
    if districts is not None and district not in districts:
        issues.append(
            NikIssue(
                "district",
                f"district code {district} (digits 1-6) is not a known or retired district",
                f"kode kecamatan {district} (digit 1-6) tidak dikenal",
            )
        )
    elif text[4:6] == "00" or text[2:4] == "00" or text[0:2] == "00":
        issues.append(
            NikIssue(
                "district",
                f"district code {district} (digits 1-6) has a zero part",
                f"kode kecamatan {district} (digit 1-6) mengandung bagian nol",
            )
        )
    born, sex, birth_issue = _check_birth(text, today)
    if birth_issue:
        issues.append(birth_issue)
    if text[12:16] == "0000":
        issues.append(
            NikIssue(
                "serial",
                "serial number (digits 13-16) cannot be 0000",
                "nomor urut (digit 13-16) tidak boleh 0000",
            )
        )
    if issues or born is None or sex is None:
        raise InvalidNik(text, issues)
    return Nik(value=text, district_code=district, birth_date=born, sex=sex, serial=text[12:16])


class _NikFormAnnotation:
    """Pydantic hook: validates a NIK's form (not its district) and keeps it a string."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: str) -> str:
            try:
                return parse_nik(value).value
            except InvalidNik as exc:
                raise PydanticCustomError("invalid_nik", str(exc)) from exc

        return core_schema.no_info_after_validator_function(validate, core_schema.str_schema())


NikStr = Annotated[str, _NikFormAnnotation]
"""A string field that must be a NIK in form (16 digits, real date, serial not 0000)."""
