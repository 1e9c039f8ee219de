"""An Open311 GeoReport v2 client written from the public specification only
(http://wiki.open311.org/GeoReport_v2), speaking raw HTTP to a running server.

It knows nothing of Satu's code: it discovers the endpoint, lists services, reads a service
definition, posts a request with an api_key, follows the token to the request id, and reads
the request's status in JSON and in XML.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from typing import Any

from sqlalchemy.engine import Engine

from satu.complaints.open311 import create_api_key
from satu.core.db import make_sessionmaker, transaction


class GeoReportClient:
    """A minimal GeoReport v2 client."""

    def __init__(self, discovery_url: str, api_key: str) -> None:
        self.discovery_url = discovery_url
        self.api_key = api_key
        self.base = ""

    def _get(self, url: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def discover(self) -> dict[str, Any]:
        status, body = self._get(self.discovery_url)
        assert status == 200
        document = json.loads(body)
        endpoint = next(
            e
            for e in document["endpoints"]
            if e["specification"] == "http://wiki.open311.org/GeoReport_v2"
            and "application/json" in e["formats"]
        )
        self.base = endpoint["url"].rstrip("/") + "/"
        return document

    def services(self) -> list[dict[str, Any]]:
        status, body = self._get(self.base + "services.json")
        assert status == 200
        return json.loads(body)

    def definition(self, service_code: str) -> dict[str, Any]:
        status, body = self._get(self.base + f"services/{urllib.parse.quote(service_code)}.json")
        assert status == 200
        return json.loads(body)

    def post_request(self, fields: dict[str, str]) -> tuple[int, Any]:
        data = urllib.parse.urlencode({"api_key": self.api_key, **fields}).encode()
        request = urllib.request.Request(self.base + "requests.json", data=data, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def request_id_for_token(self, token: str) -> str:
        status, body = self._get(self.base + f"tokens/{urllib.parse.quote(token)}.json")
        assert status == 200
        return json.loads(body)[0]["service_request_id"]

    def status_json(self, request_id: str) -> str:
        status, body = self._get(self.base + f"requests/{urllib.parse.quote(request_id)}.json")
        assert status == 200
        return json.loads(body)[0]["status"]

    def status_xml(self, request_id: str) -> str:
        status, body = self._get(self.base + f"requests/{urllib.parse.quote(request_id)}.xml")
        assert status == 200
        root = ET.fromstring(body)
        assert root.tag == "service_requests"
        return root.find("request/status").text or ""  # type: ignore[union-attr]


def test_a_spec_client_discovers_posts_follows_the_token_and_reads_status(
    live_server: Any, engine: Engine
) -> None:
    with transaction(make_sessionmaker(engine)) as session:
        key = create_api_key(session=session, name=f"spec-client-{secrets.token_hex(4)}")
    client = GeoReportClient(f"{live_server.url}/open311/v2/discovery.json", key)
    client.discover()
    services = client.services()
    service = next(s for s in services if s["service_code"] == "penerangan-jalan")
    assert service["metadata"] in (True, "true")
    definition = client.definition(service["service_code"])
    assert definition["service_code"] == "penerangan-jalan"
    required = [a["code"] for a in definition["attributes"] if a["required"] in (True, "true")]
    fields = {
        "service_code": "penerangan-jalan",
        "lat": "5.5571",
        "long": "95.3222",
        "address_string": "Jalan Teuku Umar, Banda Aceh",
        "address_id": "11.71.01",
        "description": "Lampu penerangan jalan di Jalan Teuku Umar mati sejak sebulan, "
        f"rawan kecelakaan di malam hari. Ref {secrets.token_hex(4)}",
        **{f"attribute[{code}]": "1" for code in required},
    }
    wrong = GeoReportClient(client.discovery_url, "wrong-key")
    wrong.discover()
    status, errors = wrong.post_request(fields)
    assert status == 403 and errors[0]["code"] == 403
    status, created = client.post_request(fields)
    assert status in (200, 201), created
    entry = created[0]
    if entry.get("token"):
        request_id = client.request_id_for_token(entry["token"])
        if entry.get("service_request_id"):
            assert request_id == entry["service_request_id"]
    else:
        request_id = entry["service_request_id"]
    assert client.status_json(request_id) == "open"
    assert client.status_xml(request_id) == "open"
