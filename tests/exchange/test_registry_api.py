"""The registry's admin JSON API: who may call it, what it stores, how it refuses bad input."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.exchange.conftest import CONSUMER_AGENCY, POPULATION_OPENAPI, PROVIDER_AGENCY

API = "/api/v1/exchange"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_anonymous_and_residents_are_refused(client, sign_in_as) -> None:
    for method, path in [
        ("GET", "/subsystems"),
        ("POST", "/subsystems"),
        ("GET", "/services"),
        ("POST", "/rights"),
        ("POST", "/mandates"),
    ]:
        _problem(client.request(method, API + path, json={}), 401)
    sign_in_as("verifier", PROVIDER_AGENCY)  # a role that does not manage registrations
    _problem(client.get(API + "/subsystems"), 403)


def test_admin_builds_a_world(client, sign_in_as) -> None:
    sign_in_as("admin")
    provider = client.post(
        API + "/subsystems", json={"agency_id": PROVIDER_AGENCY, "subsystem_code": "pop"}
    )
    assert provider.status_code == 201, provider.text
    assert provider.json()["xroad_id"] == "ID/GOV/kemendagri/pop"
    consumer = client.post(
        API + "/subsystems",
        json={"agency_id": CONSUMER_AGENCY, "subsystem_code": "dtks", "client_id": "dtks-app"},
    ).json()
    service = client.post(
        API + "/services",
        json={
            "subsystem_id": provider.json()["id"],
            "service_code": "population",
            "base_url": "http://127.0.0.1:9/p",
            "openapi": POPULATION_OPENAPI,
            "operations": ["GET /persons/{nik}"],
        },
    )
    assert service.status_code == 201, service.text
    body = service.json()
    assert body["xroad_id"] == "ID/GOV/kemendagri/pop/population"
    assert body["operations"] == [
        {"method": "GET", "path": "/persons/{nik}", "operation_id": "getPerson"}
    ]
    right = client.post(
        API + "/rights",
        json={"service_id": body["id"], "client_subsystem_id": consumer["id"]},
    )
    assert right.status_code == 201 and right.json()["operation"] is None
    listed = client.get(API + "/rights", params={"service_id": body["id"]}).json()
    assert [r["id"] for r in listed] == [right.json()["id"]]
    mandate = client.post(
        API + "/mandates",
        json={
            "service_id": body["id"],
            "client_agency_id": CONSUMER_AGENCY,
            "purpose": "bansos",
            "legal_basis": "UU 13/2011",
        },
    )
    assert mandate.status_code == 201, mandate.text
    ended = client.delete(f"{API}/mandates/{mandate.json()['id']}")
    assert ended.status_code == 200 and ended.json()["valid_until"] is not None
    patched = client.patch(
        f"{API}/subsystems/{consumer['id']}", json={"client_id": None, "enabled": False}
    ).json()
    assert patched["client_id"] is None and patched["enabled"] is False
    off = client.patch(f"{API}/services/{body['id']}", json={"enabled": False}).json()
    assert off["enabled"] is False
    assert client.delete(f"{API}/rights/{right.json()['id']}").status_code == 200
    assert client.get(f"{API}/services/{body['id']}/openapi").json() == POPULATION_OPENAPI


def test_bad_input_is_refused_with_problems(client, sign_in_as) -> None:
    sign_in_as("admin")
    cases = [
        ({"agency_id": "nope", "subsystem_code": "a"}, 404),
        ({"agency_id": CONSUMER_AGENCY, "subsystem_code": "a/b"}, 422),
        ({"agency_id": CONSUMER_AGENCY, "subsystem_code": "a", "extra": 1}, 422),
        ({"agency_id": CONSUMER_AGENCY, "subsystem_code": "a", "name": "x" * 201}, 422),
        ({"agency_id": CONSUMER_AGENCY}, 422),
    ]
    for body, status in cases:
        _problem(client.post(API + "/subsystems", json=body), status)
    ok = client.post(
        API + "/subsystems", json={"agency_id": CONSUMER_AGENCY, "subsystem_code": "a"}
    )
    assert ok.status_code == 201
    _problem(
        client.post(
            API + "/subsystems", json={"agency_id": CONSUMER_AGENCY, "subsystem_code": "a"}
        ),
        409,
    )
    sid = ok.json()["id"]
    for body in [
        {"base_url": "ftp://x", "openapi": POPULATION_OPENAPI},
        {"base_url": "http://x.example", "openapi": {"swagger": "2.0", "paths": {}}},
        {"base_url": "http://x.example", "openapi": POPULATION_OPENAPI, "operations": ["GET /x"]},
    ]:
        _problem(
            client.post(API + "/services", json={"subsystem_id": sid, "service_code": "s", **body}),
            422,
        )
    _problem(client.get(API + "/subsystems/0"), 422)
    _problem(client.get(API + "/subsystems/999999"), 404)
    _problem(client.get(API + "/subsystems/abc"), 422)
    _problem(client.delete(API + "/rights/999999"), 404)
    _problem(
        client.post(
            API + "/subsystems",
            content=b'{"agency_id": "kemensos", ',
            headers={"content-type": "application/json"},
        ),
        400,
    )
    big = {"agency_id": CONSUMER_AGENCY, "subsystem_code": "big", "name": "x" * 3_000_000}
    response = client.post(API + "/subsystems", json=big)
    assert response.status_code in (413, 422), response.status_code


def test_officers_manage_only_their_agency(client, db, sign_in_as, exchange_world) -> None:
    world = exchange_world
    sign_in_as("agency_admin", CONSUMER_AGENCY)
    # Kemensos' officer sees its own subsystems, not Dukcapil's, and cannot grant itself access.
    own = client.get(API + "/subsystems").json()
    assert [s["agency_id"] for s in own] == [CONSUMER_AGENCY]
    _problem(client.get(API + "/subsystems", params={"agency_id": PROVIDER_AGENCY}), 403)
    _problem(client.get(f"{API}/subsystems/{world.provider.subsystem.id}"), 404)
    _problem(client.get(f"{API}/services/{world.service.id}"), 404)
    _problem(
        client.post(
            API + "/rights",
            json={
                "service_id": world.service.id,
                "client_subsystem_id": world.consumer.subsystem.id,
            },
        ),
        404,
    )
    _problem(
        client.post(API + "/subsystems", json={"agency_id": "kemenkes", "subsystem_code": "x"}),
        403,
    )
    _problem(
        client.post(
            API + "/mandates",
            json={
                "service_id": world.service.id,
                "client_agency_id": CONSUMER_AGENCY,
                "purpose": "p",
                "legal_basis": "l",
            },
        ),
        403,
    )
    created = client.post(
        API + "/subsystems", json={"agency_id": CONSUMER_AGENCY, "subsystem_code": "new"}
    )
    assert created.status_code == 201
    # Dukcapil's officer grants the right on its own service.
    sign_in_as("officer", PROVIDER_AGENCY)
    right = client.post(
        API + "/rights",
        json={
            "service_id": world.service.id,
            "client_subsystem_id": world.consumer.subsystem.id,
            "operation": "GET /persons/{nik}",
        },
    )
    assert right.status_code == 201, right.text
    assert right.json()["granted_by"].startswith("account:")


def test_keys_api_and_public_jwks(client, sign_in_as, exchange_world) -> None:
    world = exchange_world
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    encoded = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    _problem(
        client.post(
            API + "/keys", json={"subsystem_id": world.consumer.subsystem.id, "public_key": encoded}
        ),
        401,
    )
    sign_in_as("agency_admin", CONSUMER_AGENCY)
    _problem(
        client.post(
            API + "/keys", json={"subsystem_id": world.provider.subsystem.id, "public_key": encoded}
        ),
        404,
    )
    _problem(
        client.post(
            API + "/keys", json={"subsystem_id": world.consumer.subsystem.id, "public_key": "AAAA"}
        ),
        422,
    )
    made = client.post(
        API + "/keys", json={"subsystem_id": world.consumer.subsystem.id, "public_key": encoded}
    )
    assert made.status_code == 201, made.text
    kid = made.json()["key_id"]
    client.cookies.clear()
    jwks = client.get(API + "/keys")
    assert jwks.status_code == 200
    assert jwks.headers["content-type"].startswith("application/jwk-set+json")
    assert kid in {k["kid"] for k in jwks.json()["keys"]}
    sign_in_as("agency_admin", CONSUMER_AGENCY)
    assert client.delete(f"{API}/keys/{kid}").json()["revoked"] is True
    assert kid not in {k["kid"] for k in client.get(API + "/keys").json()["keys"]}
