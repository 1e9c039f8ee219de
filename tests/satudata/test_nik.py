"""NIK parsing against the real region tables: service, JSON API and the /nik page."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from satu.satudata import service

# 32.73.01 is Sukasari in Kota Bandung; 91.01.01 (Merauke) is a retired Papua district code.
MALE = "3273011708950003"
FEMALE = "3273015708950003"
RETIRED = "9101014101900001"
PROBLEM = "application/problem+json"


def test_current_district_resolves_every_name(db: Session) -> None:
    details = service.parse_nik(session=db, value=MALE)
    assert details.district.model_dump() == {
        "code": "32.73.01",
        "name": "Sukasari",
        "retired": False,
        "regency": {"code": "32.73", "name": "Kota Bandung"},
        "province": {"code": "32", "name": "Jawa Barat"},
    }
    assert (details.birth_date, details.sex, details.serial) == (date(1995, 8, 17), "M", "0003")


def test_female_birth_date(db: Session) -> None:
    details = service.parse_nik(session=db, value=FEMALE)
    assert (details.birth_date, details.sex) == (date(1995, 8, 17), "F")


def test_retired_papua_district_validates_with_its_old_name(db: Session) -> None:
    assert "91.01.01" in service.known_district_codes(session=db)
    assert not service.is_region(session=db, code="91.01.01")
    details = service.parse_nik(session=db, value=RETIRED)
    assert details.district.retired is True
    assert details.district.name == "Merauke"
    assert details.district.regency.model_dump() == {"code": "91.01", "name": None}
    assert details.district.province.model_dump() == {"code": "91", "name": "Papua"}
    assert (details.birth_date, details.sex) == (date(1990, 1, 1), "F")


def test_known_districts_cover_current_and_retired(db: Session) -> None:
    codes = service.known_district_codes(session=db)
    assert len(codes) == 7285 + 594
    assert service.known_district_codes(session=db) is codes  # cached


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        ("12345", ["format"]),
        ("32730117089500AB", ["format"]),
        ("9999991708950003", ["district"]),
        ("3273013213950003", ["birth_date"]),
        ("3273011708950000", ["serial"]),
        ("9999993213950000", ["district", "birth_date", "serial"]),
    ],
)
def test_every_faulty_part_is_named(db: Session, value: str, parts: list[str]) -> None:
    with pytest.raises(service.InvalidNik) as caught:
        service.parse_nik(session=db, value=value)
    assert caught.value.parts == parts


def test_api_valid_nik(client: TestClient) -> None:
    response = client.get(f"/api/v1/nik/{RETIRED}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "nik": RETIRED,
        "district": {
            "code": "91.01.01",
            "name": "Merauke",
            "retired": True,
            "regency": {"code": "91.01", "name": None},
            "province": {"code": "91", "name": "Papua"},
        },
        "birth_date": "1990-01-01",
        "sex": "F",
        "serial": "0001",
    }


def test_api_invalid_nik_is_a_problem_naming_each_part(client: TestClient) -> None:
    response = client.get("/api/v1/nik/9999993213950000")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("/problems/invalid-nik")
    assert body["status"] == 422
    assert [error["part"] for error in body["errors"]] == ["district", "birth_date", "serial"]
    for error in body["errors"]:
        assert set(error) == {"part", "message", "message_id"}
        assert error["message"] and error["message_id"]


@pytest.mark.parametrize("value", ["abc", "1" * 300, "%20", "3273011708950003x"])
def test_api_malformed_nik_is_a_format_problem(client: TestClient, value: str) -> None:
    response = client.get(f"/api/v1/nik/{value}")
    assert response.status_code == 422
    assert [error["part"] for error in response.json()["errors"]] == ["format"]


def test_api_batch_validation(client: TestClient) -> None:
    niks = [MALE, "3273011708950000", RETIRED, "nope"]
    response = client.post("/api/v1/nik/validate", json={"niks": niks})
    assert response.status_code == 200
    body = response.json()
    assert (body["valid"], body["invalid"]) == (2, 2)
    assert [item["valid"] for item in body["items"]] == [True, False, True, False]
    assert body["items"][0]["details"]["district"]["name"] == "Sukasari"
    assert body["items"][1]["errors"][0]["part"] == "serial"
    assert body["items"][2]["details"]["district"]["retired"] is True
    assert body["items"][3]["nik"] == "nope"


@pytest.mark.parametrize(
    "payload",
    [{"niks": []}, {"niks": [MALE] * 1001}, {"niks": MALE}, {"niks": [1]}, {}, {"x": [MALE]}],
)
def test_api_batch_rejects_bad_bodies(client: TestClient, payload: object) -> None:
    response = client.post("/api/v1/nik/validate", json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


def test_api_batch_of_1000(client: TestClient) -> None:
    niks = [f"327301170895{n:04d}" for n in range(1, 1001)]
    response = client.post("/api/v1/nik/validate", json={"niks": niks})
    assert response.status_code == 200
    assert response.json()["valid"] == 1000


def test_api_batch_rejects_broken_json(client: TestClient) -> None:
    response = client.post(
        "/api/v1/nik/validate", content=b"{niks:", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


def test_page_shows_parts_in_indonesian(client: TestClient) -> None:
    response = client.get("/nik", params={"nik": RETIRED, "lang": "id"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    text = response.text
    assert "Merauke" in text and "Papua" in text
    assert "1 Januari 1990" in text
    assert "Perempuan" in text


def test_page_explains_errors_in_english(client: TestClient) -> None:
    response = client.get("/nik", params={"nik": "3273013213950000", "lang": "en"})
    assert response.status_code == 422
    text = response.text
    assert "This NIK is not valid" in text
    assert "month 13 does not exist" in text
    assert "cannot be 0000" in text
    assert 'aria-invalid="true"' in text


def test_page_errors_in_indonesian(client: TestClient) -> None:
    response = client.get("/nik", params={"nik": "123", "lang": "id"})
    assert response.status_code == 422
    assert "NIK harus terdiri dari tepat 16 angka" in response.text


def test_empty_page_is_just_the_form(client: TestClient) -> None:
    response = client.get("/nik")
    assert response.status_code == 200
    assert 'name="nik"' in response.text
    assert "error-summary" not in response.text
