"""CSRF on the exchange's cookie-authenticated JSON APIs; bearer-token callers never need it.

The admin API (`/api/v1/exchange/...`), the configuration API's writes and the delivery queue
take the browser's session cookie, so every unsafe call needs `X-CSRF-Token` (from
`GET /api/v1/csrf`) and a same-site `Origin` if any. `/r1` callers send a bearer token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from satu.exchange import registry
from tests.exchange.conftest import (
    CONSUMER_AGENCY,
    POPULATION_OPENAPI,
    PROVIDER_AGENCY,
    ExchangeClient,
    ExchangeWorld,
    consumer_headers,
)
from tests.identity.conftest import assert_csrf_guarded

API = "/api/v1/exchange"


def test_admin_api_writes_need_the_token(client: TestClient, sign_in_as: Any) -> None:
    sign_in_as("admin")
    provider = assert_csrf_guarded(
        client,
        "POST",
        API + "/subsystems",
        json={"agency_id": PROVIDER_AGENCY, "subsystem_code": "csrf-pop"},
        expect=201,
    ).json()
    consumer = assert_csrf_guarded(
        client,
        "POST",
        API + "/subsystems",
        json={"agency_id": CONSUMER_AGENCY, "subsystem_code": "csrf-app"},
        expect=201,
    ).json()
    patched = assert_csrf_guarded(
        client, "PATCH", f"{API}/subsystems/{consumer['id']}", json={"enabled": False}, expect=200
    )
    assert patched.json()["enabled"] is False
    service = assert_csrf_guarded(
        client,
        "POST",
        API + "/services",
        json={
            "subsystem_id": provider["id"],
            "service_code": "population",
            "base_url": "http://127.0.0.1:9/p",
            "openapi": POPULATION_OPENAPI,
        },
        expect=201,
    ).json()
    assert_csrf_guarded(
        client, "PATCH", f"{API}/services/{service['id']}", json={"enabled": False}, expect=200
    )
    right = assert_csrf_guarded(
        client,
        "POST",
        API + "/rights",
        json={"service_id": service["id"], "client_subsystem_id": consumer["id"]},
        expect=201,
    ).json()
    assert_csrf_guarded(client, "DELETE", f"{API}/rights/{right['id']}", expect=200)
    mandate = assert_csrf_guarded(
        client,
        "POST",
        API + "/mandates",
        json={
            "service_id": service["id"],
            "client_agency_id": CONSUMER_AGENCY,
            "purpose": "bansos",
            "legal_basis": "UU 13/2011",
        },
        expect=201,
    ).json()
    assert_csrf_guarded(client, "DELETE", f"{API}/mandates/{mandate['id']}", expect=200)


def test_an_agency_officer_needs_the_token_too(
    client: TestClient, db: Session, sign_in_as: Any
) -> None:
    sign_in_as("agency_admin", CONSUMER_AGENCY)
    assert_csrf_guarded(
        client,
        "POST",
        API + "/subsystems",
        json={"agency_id": CONSUMER_AGENCY, "subsystem_code": "csrf-own"},
        expect=201,
    )
    stored = registry.list_subsystems(session=db, agency_id=CONSUMER_AGENCY)
    codes = [subsystem.subsystem_code for subsystem in stored]
    assert codes.count("csrf-own") == 1, "the refused attempts stored nothing"


def test_configuration_api_and_delivery_queue_writes_need_the_token(
    client: TestClient, sign_in_as: Any, exchange_world: ExchangeWorld
) -> None:
    sign_in_as("admin")
    rights = [
        {
            "memberClass": "GOV",
            "memberCode": "kemendagri",
            "applicationId": exchange_world.provider.subsystem.subsystem_code,
            "serviceId": exchange_world.service.service_code,
            "rights": [{"memberClass": "GOV", "memberCode": "kemensos", "applicationId": "dtks"}],
        }
    ]
    allowed = assert_csrf_guarded(client, "PATCH", "/api/v1/rights/allow", json=rights, expect=200)
    assert allowed.json() == {"allowed": 1}, "granted once: the refused attempts changed nothing"
    denied = assert_csrf_guarded(client, "PATCH", "/api/v1/rights/deny", json=rights, expect=200)
    assert denied.json() == {"denied": 1}
    # No dead delivery 1: with the token the route itself answers (404), not the CSRF check.
    assert_csrf_guarded(client, "POST", API + "/events/deliveries/1/requeue", expect=404)


def test_signed_in_reads_need_no_token(client: TestClient, sign_in_as: Any) -> None:
    sign_in_as("admin")
    client.headers.pop("X-CSRF-Token", None)
    assert client.get(API + "/subsystems").status_code == 200
    assert client.get("/api/v1/config").status_code == 200
    assert client.get(API + "/events/deliveries").status_code == 200


def test_anonymous_writes_are_401_not_403(client: TestClient) -> None:
    """Authentication is checked first: no session means 401 whatever the token."""
    for method, path in [
        ("POST", API + "/subsystems"),
        ("DELETE", API + "/rights/1"),
        ("PATCH", "/api/v1/rights/allow"),
        ("POST", API + "/events/deliveries/1/requeue"),
    ]:
        response = client.request(method, path, json={})
        assert response.status_code == 401, (path, response.text)


def test_bearer_token_callers_are_unaffected(
    client: TestClient,
    sign_in_as: Any,
    make_client: Callable[..., ExchangeClient],
) -> None:
    """/r1 pub/sub calls carry no CSRF token, even from a client holding a session cookie."""
    publisher = make_client("kemendagri.dukcapil", "csrf-registry")
    headers = consumer_headers(client, publisher)
    base = f"/r1/{publisher.xroad_id}"
    created = client.post(
        f"{base}/api/v1/eventType",
        json={"eventType": "csrf-checked", "schema": {"type": "object"}},
        headers=headers,
    )
    assert created.status_code == 200, created.text
    sign_in_as("admin")  # the same client now also sends an admin's session cookie
    client.headers.pop("X-CSRF-Token", None)
    assert client.cookies.get("satu_session")
    published = client.post(
        f"{base}/pub/v1/csrf-checked",
        json={"eventType": "csrf-checked", "event": {"a": 1}},
        headers={**headers, "Origin": "https://evil.example"},
    )
    assert published.status_code == 201, published.text
    removed = client.delete(f"{base}/api/v1/eventType/csrf-checked", headers=headers)
    assert removed.status_code == 204, removed.text
