"""Open311 GeoReport v2 endpoints: formats, api_key, jurisdiction, filters, errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.complaints.models import Report
from satu.complaints.open311 import create_api_key, revoke_api_key

from .conftest import VILLAGE

FORM = {
    "service_code": "air-minum",
    "address_id": VILLAGE,
    "description": "Air PDAM di Keude Bakongan tidak mengalir selama seminggu tanpa "
    "pemberitahuan kepada pelanggan.",
    "first_name": "Teuku",
    "last_name": "Umar",
    "email": "teuku@example.id",
}


@pytest.fixture
def key(db: Session) -> str:
    return create_api_key(session=db, name="gateway-uji", channel="sms")


def post(client: TestClient, fmt: str = "json", **fields: str):  # type: ignore[no-untyped-def]
    return client.post(f"/open311/v2/requests.{fmt}", data={**FORM, **fields})


def test_discovery_in_both_formats(client: TestClient) -> None:
    data = client.get("/open311/v2/discovery.json").json()
    endpoint = data["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert "text/xml" in endpoint["formats"] and "application/json" in endpoint["formats"]
    root = ET.fromstring(client.get("/open311/v2/discovery.xml").content)
    assert root.tag == "discovery"
    assert root.find("endpoints/endpoint/url").text.endswith("/open311/v2/")  # type: ignore[union-attr]


def test_services_and_definition(client: TestClient) -> None:
    services = client.get("/open311/v2/services.json").json()
    ktp = next(s for s in services if s["service_code"] == "ktp-el")
    assert ktp["metadata"] is True and ktp["type"] == "realtime" and ktp["group"]
    root = ET.fromstring(client.get("/open311/v2/services.xml").content)
    assert root.tag == "services" and root.find("service/service_code") is not None
    definition = client.get("/open311/v2/services/ktp-el.json").json()
    codes = [a["code"] for a in definition["attributes"]]
    assert {"report_type", "anonymous", "confidential"} <= set(codes)
    xml = ET.fromstring(client.get("/open311/v2/services/ktp-el.xml").content)
    assert xml.find("attributes/attribute/values/value/key") is not None


def test_errors_have_the_open311_shape(client: TestClient) -> None:
    missing = client.get("/open311/v2/services/tidak-ada.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404 and "description" in missing.json()[0]
    xml = client.get("/open311/v2/services/tidak-ada.xml")
    root = ET.fromstring(xml.content)
    assert root.tag == "errors" and root.find("error/code").text == "404"  # type: ignore[union-attr]
    jurisdiction = client.get("/open311/v2/services.json", params={"jurisdiction_id": "nyc.gov"})
    assert jurisdiction.status_code == 404
    right = client.get("/open311/v2/services.json", params={"jurisdiction_id": "satu.go.id"})
    assert right.status_code == 200
    assert client.get("/open311/v2/services.yaml").status_code == 404


def test_api_key_is_required_and_checked(client: TestClient, db: Session, key: str) -> None:
    assert post(client).status_code == 403
    forged = post(client, api_key="s311_" + "A" * 32)
    assert forged.status_code == 403 and forged.json()[0]["code"] == 403
    revoke_api_key(session=db, name="gateway-uji")
    assert post(client, api_key=key).status_code == 403


def test_post_then_follow_the_token(client: TestClient, db: Session, key: str) -> None:
    answer = post(client, api_key=key)
    assert answer.status_code == 200, answer.text
    created = answer.json()[0]
    token = client.get(f"/open311/v2/tokens/{created['token']}.json").json()[0]
    assert token["service_request_id"] == created["service_request_id"]
    request = client.get(f"/open311/v2/requests/{token['service_request_id']}.json").json()[0]
    assert request["status"] == "open" and request["service_code"] == "air-minum"
    assert request["address_id"] == VILLAGE
    assert "Teuku" not in str(request) and "teuku@example.id" not in str(request)
    row = db.scalars(select(Report).where(Report.number == created["service_request_id"])).one()
    assert row.channel == "sms" and row.api_client == "gateway-uji"
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{row.number}.xml").content)
    assert xml.tag == "service_requests" and xml.find("request/status").text == "open"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"service_code": ""}, 400),
        ({"service_code": "tidak-ada"}, 404),
        ({"address_id": "", "lat": "", "long": ""}, 400),
        ({"address_id": "99.99"}, 400),
        ({"description": "pendek"}, 400),
        ({"lat": "abc", "long": "96.1"}, 400),
        ({"lat": "52.37", "long": "4.89", "address_id": ""}, 400),
        ({"attribute[report_type]": "gossip"}, 400),
        ({"attribute[anonymous]": "perhaps"}, 400),
        ({"email": "<script>"}, 400),
        ({"jurisdiction_id": "elsewhere"}, 404),
    ],
)
def test_bad_submissions_are_refused_and_nothing_is_stored(
    client: TestClient, db: Session, key: str, fields: dict, code: int
) -> None:
    before = db.scalars(select(Report.id)).all()
    answer = post(client, api_key=key, **fields)
    assert answer.status_code == code, answer.text
    assert answer.json()[0]["code"] == code
    assert db.scalars(select(Report.id)).all() == before


def test_confidential_and_anonymous_attributes(client: TestClient, db: Session, key: str) -> None:
    created = post(client, api_key=key, **{"attribute[confidential]": "true"}).json()[0]
    number = created["service_request_id"]
    assert client.get(f"/open311/v2/requests/{number}.json").status_code == 404
    listed = client.get("/open311/v2/requests.json").json()
    assert number not in [r["service_request_id"] for r in listed]
    whistle = post(client, api_key=key, **{"attribute[report_type]": "whistleblowing"})
    row = db.scalars(
        select(Report).where(Report.number == whistle.json()[0]["service_request_id"])
    ).one()
    assert row.anonymous and row.confidential


def test_list_filters_and_defaults(client: TestClient, db: Session, key: str) -> None:
    first = post(client, api_key=key).json()[0]["service_request_id"]
    second = post(
        client,
        api_key=key,
        service_code="persampahan",
        description="Sampah di TPS Keude Bakongan menumpuk dan berbau karena truk tidak datang.",
    ).json()[0]["service_request_id"]
    old = db.scalars(select(Report).where(Report.number == second)).one()
    old.created_at = datetime.now(UTC) - timedelta(days=120)
    db.flush()
    default = [r["service_request_id"] for r in client.get("/open311/v2/requests.json").json()]
    assert first in default and second not in default
    ranged = client.get(
        "/open311/v2/requests.json",
        params={"start_date": (datetime.now(UTC) - timedelta(days=200)).isoformat()},
    ).json()
    assert second in [r["service_request_id"] for r in ranged]
    by_id = client.get(
        "/open311/v2/requests.json", params={"service_request_id": f"{first},{second}"}
    ).json()
    assert {r["service_request_id"] for r in by_id} == {first, second}
    by_code = client.get(
        "/open311/v2/requests.json", params={"service_code": "air-minum", "status": "open"}
    ).json()
    assert by_code and all(r["service_code"] == "air-minum" for r in by_code)
    closed = client.get("/open311/v2/requests.json", params={"status": "closed"}).json()
    assert first not in [r["service_request_id"] for r in closed]
    backwards = {"start_date": "2026-05-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}
    for params in ({"status": "pending"}, {"start_date": "kemarin"}, backwards):
        bad = client.get("/open311/v2/requests.json", params=params)
        assert bad.status_code == 400 and bad.json()[0]["code"] == 400
    xml = ET.fromstring(client.get("/open311/v2/requests.xml").content)
    assert xml.tag == "service_requests"


def test_unknown_ids_and_tokens(client: TestClient) -> None:
    assert client.get("/open311/v2/requests/0000000001.json").status_code == 404
    assert client.get("/open311/v2/tokens/nope.json").status_code == 404
    assert client.get("/open311/v2/tokens/" + "x" * 30 + ".xml").status_code == 404
