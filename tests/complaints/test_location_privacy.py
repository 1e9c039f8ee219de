"""Where a report was made is public only coarsely, and not at all for anonymous reporters."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from satu.complaints.models import Report
from satu.complaints.open311 import create_api_key
from satu.complaints.presenters import public_location
from satu.complaints.statistics import clear_cache

from .conftest import VILLAGE

LAT, LONG = "3.271845", "97.184263"  # exact: a house
HOME = "Lorong Melati 7, rumah cat hijau"


def _file(client: TestClient, key: str, anonymous: bool) -> str:
    answer = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "air-minum",
            "address_id": VILLAGE,
            "lat": LAT,
            "long": LONG,
            "address_string": HOME,
            "description": "Pipa PDAM bocor di depan rumah sejak seminggu, air terbuang "
            "percuma dan jalan menjadi licin.",
            "attribute[anonymous]": "true" if anonymous else "false",
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()[0]["service_request_id"]


def _public_texts(client: TestClient, number: str) -> dict[str, str]:
    clear_cache()
    return {
        "open311 list json": client.get("/open311/v2/requests.json").text,
        "open311 list xml": client.get("/open311/v2/requests.xml").text,
        "open311 one json": client.get(f"/open311/v2/requests/{number}.json").text,
        "open311 one xml": client.get(f"/open311/v2/requests/{number}.xml").text,
        "report page": client.get(f"/pengaduan/laporan/{number}").text,
        "report json": client.get(f"/api/v1/complaints/{number}").text,
        "statistics csv": client.get("/pengaduan/statistik.csv").text,
        "statistics json": client.get("/api/v1/complaints/statistics").text,
    }


@pytest.fixture
def key(db: Session) -> str:
    return create_api_key(session=db, name="gateway-lokasi")


def test_anonymous_reports_publish_no_address_nor_coordinates(client: TestClient, key: str) -> None:
    number = _file(client, key, anonymous=True)
    for channel, text in _public_texts(client, number).items():
        assert "3.27" not in text and "97.18" not in text, channel
        assert "Lorong Melati" not in text, channel
    entry = client.get(f"/open311/v2/requests/{number}.json").json()[0]
    assert entry["lat"] is None and entry["long"] is None and entry["address"] == ""
    assert entry["address_id"] == VILLAGE  # the village stays: it is on the public page too
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml").content)
    assert not xml.findtext("request/lat") and not xml.findtext("request/long")
    assert not xml.findtext("request/address")


def test_other_reports_publish_coordinates_rounded_to_about_100_m(
    client: TestClient, key: str
) -> None:
    number = _file(client, key, anonymous=False)
    for channel, text in _public_texts(client, number).items():
        assert LAT not in text and LONG not in text, channel
        assert "3.2718" not in text and "97.1842" not in text, channel
    entry = client.get(f"/open311/v2/requests/{number}.json").json()[0]
    assert entry["lat"] == 3.272 and entry["long"] == 97.184
    listing = client.get("/open311/v2/requests.json").json()
    listed = next(e for e in listing if e["service_request_id"] == number)
    assert (listed["lat"], listed["long"]) == (3.272, 97.184)
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml").content)
    assert xml.findtext("request/lat") == "3.272" and xml.findtext("request/long") == "97.184"


def test_whistleblowing_never_has_a_public_location() -> None:
    # Whistle-blowing is also confidential (never listed); even so, its location is withheld.
    report = Report(
        kind="whistleblowing",
        anonymous=False,
        latitude=3.271845,
        longitude=97.184263,
        address=HOME,
    )
    assert public_location(report) == (None, None, None)
    report.kind = "complaint"
    assert public_location(report) == (HOME, 3.272, 97.184)
