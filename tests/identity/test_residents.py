"""The population register: registration rules, look-ups, families, deaths."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from satu.core.errors import Problem
from satu.identity import service
from tests.identity.conftest import make_nik, resident_data


def test_register_and_read_back_with_region_names(db: Session) -> None:
    data = resident_data(full_name="  Siti   Rahayu ", sex="F", birth_date=date(1985, 3, 4))
    created = service.register_resident(session=db, data=data)
    assert created.nik[6:8] == "44"  # day + 40 for women
    assert created.full_name == "Siti Rahayu"
    got = service.get_resident(session=db, nik=data.nik)
    assert got.address.village.name == "Sukarasa"
    assert got.address.district.code == "32.73.01"
    assert got.address.district.name == "Sukasari"
    assert got.address.regency.code == "32.73"
    assert got.address.province.code == "32"
    assert got.phone_masked and "*" in got.phone_masked
    assert got.status == "alive"


def test_nik_disagreeing_with_birth_date_is_refused_with_reason(db: Session) -> None:
    data = resident_data(birth_date=date(1990, 8, 17))
    data = data.model_copy(update={"birth_date": date(1990, 8, 18)})
    with pytest.raises(Problem) as caught:
        service.register_resident(session=db, data=data)
    assert caught.value.slug == "validation-error"
    assert "birth date 17-08-90" in (caught.value.detail or "")
    assert "18-08-1990" in (caught.value.detail or "")


def test_nik_disagreeing_with_sex_is_refused_with_reason(db: Session) -> None:
    male_nik = make_nik(date(1992, 1, 5), "M")
    data = resident_data(birth_date=date(1992, 1, 5), sex="F").model_copy(update={"nik": male_nik})
    with pytest.raises(Problem) as caught:
        service.register_resident(session=db, data=data)
    assert "sex" in (caught.value.detail or "")
    assert "male" in (caught.value.detail or "")


def test_year_only_differing_by_century_is_accepted(db: Session) -> None:
    assert (
        service.nik_mismatches(
            nik=make_nik(date(1921, 2, 3), "M"), birth_date=date(1921, 2, 3), sex="M"
        )
        == []
    )


def test_unknown_district_is_an_invalid_nik(db: Session) -> None:
    data = resident_data().model_copy(update={"nik": "999999" + resident_data().nik[6:]})
    with pytest.raises(Problem) as caught:
        service.register_resident(session=db, data=data)
    assert caught.value.slug == "invalid-nik"
    assert caught.value.extensions["errors"][0]["part"] == "district"


def test_malformed_input_is_refused_by_the_schema() -> None:
    with pytest.raises(ValidationError):
        resident_data(nik="12345")
    with pytest.raises(ValidationError):
        resident_data(village_code="32.73.01")
    with pytest.raises(ValidationError):
        resident_data(phone="08123")
    with pytest.raises(ValidationError):
        resident_data(full_name="Budi\x00")


def test_duplicate_nik_is_a_conflict(db: Session) -> None:
    data = resident_data()
    service.register_resident(session=db, data=data)
    with pytest.raises(Problem) as caught:
        service.register_resident(session=db, data=data)
    assert caught.value.slug == "conflict"


def test_unknown_village_and_future_birth_are_refused(db: Session) -> None:
    with pytest.raises(Problem) as caught:
        service.register_resident(session=db, data=resident_data(village_code="32.73.01.9999"))
    assert caught.value.status == 404


def test_unregistered_parent_is_refused(db: Session) -> None:
    orphan_parent = make_nik(date(1960, 1, 1), "M")
    with pytest.raises(Problem):
        service.register_resident(session=db, data=resident_data(father_nik=orphan_parent))


def test_family_card_lists_members_head_first(db: Session) -> None:
    kk = "3273010101990001"
    head = service.register_resident(
        session=db, data=resident_data(kk_number=kk, birth_date=date(1970, 1, 1))
    )
    wife = service.register_resident(
        session=db,
        data=resident_data(
            kk_number=kk, sex="F", birth_date=date(1972, 2, 2), family_relation="spouse"
        ),
    )
    service.register_resident(
        session=db,
        data=resident_data(
            kk_number=kk,
            birth_date=date(2001, 5, 6),
            family_relation="child",
            father_nik=head.nik,
            mother_nik=wife.nik,
        ),
    )
    members = service.family_members(session=db, kk_number=kk)
    assert [m.family_relation for m in members] == ["head", "spouse", "child"]


def test_missing_resident_is_not_found(db: Session) -> None:
    with pytest.raises(Problem) as caught:
        service.get_resident(session=db, nik="3273011708900001")
    assert caught.value.status == 404
    assert service.find_resident(session=db, nik="3273011708900001") is None


def test_death_is_recorded_and_implausible_dates_refused(db: Session) -> None:
    person = service.register_resident(session=db, data=resident_data())
    with pytest.raises(Problem):
        service.record_death(session=db, nik=person.nik, died_on=date(1980, 1, 1), actor="test")
    out = service.record_death(session=db, nik=person.nik, died_on=date(2024, 1, 1), actor="test")
    assert out.status == "deceased"
    assert out.died_on == date(2024, 1, 1)


def test_death_disables_the_account_and_signs_it_out(db: Session) -> None:
    person = service.register_resident(session=db, data=resident_data())
    account = service.create_account(session=db, nik=person.nik, password="kopi-tubruk-pagi-hari")
    service.record_death(session=db, nik=person.nik, died_on=date(2024, 1, 1), actor="test")
    assert service.get_account(session=db, account_id=account.id).status == "disabled"
    events = service.list_audit(
        session=db, action="account.disabled", target=f"account:{account.id}"
    )
    assert events and events[0].actor == "test"
