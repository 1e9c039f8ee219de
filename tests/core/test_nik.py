"""The NIK value type of the shared kernel, without any database."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import BaseModel, ValidationError

from satu.core.nik import InvalidNik, Nik, NikStr, parse_nik

TODAY = date(2026, 11, 29)
DISTRICTS = frozenset({"32.73.01", "91.01.01"})


def issues_of(value: object, **kwargs: object) -> dict[str, str]:
    with pytest.raises(InvalidNik) as caught:
        parse_nik(value, today=TODAY, **kwargs)
    return {issue.part: issue.message for issue in caught.value.issues}


def test_male_nik_parts() -> None:
    nik = parse_nik("3273011708950003", districts=DISTRICTS, today=TODAY)
    assert nik == Nik("3273011708950003", "32.73.01", date(1995, 8, 17), "M", "0003")
    assert (nik.province_code, nik.regency_code) == ("32", "32.73")
    assert nik.masked == "327301**********"
    assert str(nik) == "3273011708950003"


def test_female_day_has_forty_added() -> None:
    nik = parse_nik("3273015708950003", today=TODAY)
    assert nik.sex == "F"
    assert nik.birth_date == date(1995, 8, 17)
    assert parse_nik("3273014101000001", today=TODAY).birth_date == date(2000, 1, 1)


def test_century_is_the_latest_not_in_the_future() -> None:
    assert parse_nik("3273010101250001", today=TODAY).birth_date == date(2025, 1, 1)
    assert parse_nik("3273010101270001", today=TODAY).birth_date == date(1927, 1, 1)
    # 29 February exists in 2000 but not in 1900 or 2100: the 2000 date is chosen.
    assert parse_nik("3273012902000001", today=TODAY).birth_date == date(2000, 2, 29)


def test_surrounding_whitespace_is_ignored_and_classmethod_matches() -> None:
    assert Nik.parse(" 3273011708950003\n", today=TODAY).value == "3273011708950003"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "123",
        "32730117089500031",
        "327301170895000A",
        "３２７３０１１７０８９５０００３",
        None,
        12,
    ],
)
def test_format_errors_stop_there(value: object) -> None:
    assert set(issues_of(value)) == {"format"}


def test_every_faulty_part_is_named_at_once() -> None:
    issues = issues_of("9999993213950000", districts=DISTRICTS)
    assert set(issues) == {"district", "birth_date", "serial"}
    assert "99.99.99" in issues["district"]
    assert "month 13" in issues["birth_date"]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("3273010001950001", "day 00"),
        ("3273013201950001", "day 32"),
        ("3273014001950001", "day 40"),
        ("3273017201950001", "day 72"),
        ("3273013102950001", "not a real date"),
        ("3273016902950001", "not a real date"),
        ("3273011500950001", "month 00"),
    ],
)
def test_birth_date_errors(value: str, fragment: str) -> None:
    assert fragment in issues_of(value)["birth_date"]


def test_unknown_district_only_checked_with_districts() -> None:
    assert parse_nik("1101011708950003", today=TODAY).district_code == "11.01.01"
    assert "district" in issues_of("1101011708950003", districts=DISTRICTS)


def test_zero_district_parts_are_rejected_without_a_list() -> None:
    assert "zero part" in issues_of("3273001708950003")["district"]
    assert "zero part" in issues_of("0073011708950003")["district"]


def test_serial_0000_is_invalid() -> None:
    assert set(issues_of("3273011708950000")) == {"serial"}


def test_issue_messages_are_bilingual() -> None:
    with pytest.raises(InvalidNik) as caught:
        parse_nik("3273011708950000", today=TODAY)
    issue = caught.value.issues[0]
    assert issue.message_id.startswith("nomor urut")
    assert caught.value.parts == ["serial"]
    assert "serial" in str(caught.value)


def test_format_error_value_is_truncated() -> None:
    with pytest.raises(InvalidNik) as caught:
        parse_nik("9" * 500, today=TODAY)
    assert len(caught.value.value) == 32


def test_nik_str_field_in_a_schema() -> None:
    class Person(BaseModel):
        nik: NikStr

    assert Person(nik=" 3273011708950003 ").nik == "3273011708950003"
    with pytest.raises(ValidationError) as caught:
        Person(nik="3273011708950000")
    assert caught.value.errors()[0]["type"] == "invalid_nik"
