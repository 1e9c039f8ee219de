"""The JSON API: filing, preview, public view, "me too", tracking, statistics, limits."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from satu.complaints.config import ComplaintSettings
from satu.complaints.statistics import clear_cache

from .conftest import VILLAGE

BODY: dict[str, Any] = {
    "title": "Jalan rusak berlubang di Bakongan",
    "body": "Jalan kabupaten menuju Keude Bakongan rusak berlubang sejak musim hujan dan "
    "sudah dua pengendara motor jatuh minggu ini.",
    "service_code": "jalan-kabupaten",
    "region_code": VILLAGE,
}


def test_file_and_read_back(client: TestClient) -> None:
    answer = client.post("/api/v1/complaints", json=BODY)
    assert answer.status_code == 201, answer.text
    filed = answer.json()
    assert filed["agency_id"] == "kab-11.01" and filed["status"] == "unverified"
    public = client.get(f"/api/v1/complaints/{filed['number']}").json()
    assert public["title"] == BODY["title"] and public["agency_id"] == "kab-11.01"
    assert public["region_name"].startswith("Keude Bakongan")
    assert "token" not in public
    mine = client.get(f"/api/v1/complaints/track/{filed['token']}")
    assert mine.status_code == 200 and mine.json()["number"] == filed["number"]


def test_bad_input_gets_problem_details(client: TestClient) -> None:
    for change, status in (
        ({"service_code": "tidak-ada"}, 422),
        ({"region_code": "99.99.99"}, 422),
        ({"body": ""}, 422),
        ({"title": "x" * 500}, 422),
        ({"unexpected": 1}, 422),
        ({"latitude": "nan"}, 422),
    ):
        answer = client.post("/api/v1/complaints", json={**BODY, **change})
        assert answer.status_code == status, (change, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    broken = client.post(
        "/api/v1/complaints", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code in (400, 422)
    huge = client.post("/api/v1/complaints", json={**BODY, "body": "x" * 2_000_000})
    assert huge.status_code == 413


def test_unknown_and_confidential_numbers_look_the_same(client: TestClient) -> None:
    secret = client.post("/api/v1/complaints", json={**BODY, "confidential": True}).json()
    assert client.get(f"/api/v1/complaints/{secret['number']}").status_code == 404
    assert client.get("/api/v1/complaints/0000000000").status_code == 404
    assert client.get("/api/v1/complaints/track/not-a-real-token-123456").status_code == 404


def test_preview_shows_what_will_be_public(client: TestClient) -> None:
    shown = client.post(
        "/api/v1/complaints/preview", json={**BODY, "anonymous": True, "reporter_name": "Ani"}
    ).json()
    assert shown["public"] is True and shown["identity_visible_to_agency"] is False
    assert shown["public_view"]["reporter"] == "Anonim"


def test_me_too_and_reporter_actions(client: TestClient) -> None:
    filed = client.post("/api/v1/complaints", json=BODY).json()
    first = client.post(f"/api/v1/complaints/{filed['number']}/support").json()
    again = client.post(f"/api/v1/complaints/{filed['number']}/support").json()
    assert first == again == {"supporters": 1}
    early = client.post(
        f"/api/v1/complaints/track/{filed['token']}", json={"action": "rate", "rating": 5}
    )
    assert early.status_code == 409
    wrong = client.post(
        f"/api/v1/complaints/track/{filed['token']}", json={"action": "rate", "rating": 9}
    )
    assert wrong.status_code == 422


def test_script_injection_comes_back_as_data(client: TestClient) -> None:
    payload = "<script>alert(document.cookie)</script>"
    filed = client.post(
        "/api/v1/complaints", json={**BODY, "title": payload, "body": payload * 2}
    ).json()
    public = client.get(f"/api/v1/complaints/{filed['number']}")
    assert public.headers["content-type"].startswith("application/json")
    assert public.json()["title"] == payload


def test_flooding_from_one_address_is_limited(app: FastAPI, client: TestClient) -> None:
    app.state.complaint_settings = ComplaintSettings(rate_per_ip_per_hour=3)
    codes = [
        client.post(
            "/api/v1/complaints", json={**BODY, "title": f"Jalan rusak nomor {i}"}
        ).status_code
        for i in range(5)
    ]
    assert codes == [201, 201, 201, 429, 429]
    refused = client.post("/api/v1/complaints", json=BODY)
    assert int(refused.headers["retry-after"]) > 0


def test_officer_routes_need_a_signed_in_officer(client: TestClient) -> None:
    assert client.get("/api/v1/complaints/cases").status_code == 401
    answer = client.post("/api/v1/complaints/cases/1/actions", json={"action": "note"})
    assert answer.status_code == 401


def test_statistics_json_and_csv(client: TestClient) -> None:
    client.post("/api/v1/complaints", json=BODY)
    clear_cache()
    figures = client.get("/api/v1/complaints/statistics").json()
    assert figures["total"] >= 1
    assert any(c["key"] == "infrastruktur" for c in figures["by_category"])
    answer = client.get("/api/v1/complaints/statistics.csv")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0][:3] == ["dimension", "key", "label"]
    assert any(row[0] == "province" and row[1] == "11" for row in rows)


def test_catalogue_endpoints(client: TestClient) -> None:
    services = client.get("/api/v1/complaints/services", params={"category": "kependudukan"})
    codes = {s["code"] for s in services.json()}
    assert {"ktp-el", "kartu-keluarga", "akta-kelahiran"} <= codes
    categories = client.get("/api/v1/complaints/categories").json()
    assert any(c["code"] == "perlindungan-sosial" for c in categories)
