"""GovStack IM Configuration Management API: admin only, config, status, rights allow/deny."""

from __future__ import annotations

from satu.exchange import registry
from tests.exchange.conftest import ADMIN, CONSUMER_AGENCY


def _rights_body(world, rights):
    return [
        {
            "memberClass": "GOV",
            "memberCode": "kemendagri",
            "applicationId": "population-register",
            "serviceId": "population",
            "rights": rights,
        }
    ]


DTKS = {"memberClass": "GOV", "memberCode": "kemensos", "applicationId": "dtks"}


def test_only_admins(client, sign_in_as, exchange_world) -> None:
    for method, path in [
        ("GET", "/api/v1/config"),
        ("GET", "/api/v1/status"),
        ("GET", "/api/v1/rights/allow"),
        ("PATCH", "/api/v1/rights/allow"),
        ("PATCH", "/api/v1/rights/deny"),
    ]:
        assert client.request(method, path, json=[]).status_code == 401
    sign_in_as("agency_admin", CONSUMER_AGENCY)
    assert client.get("/api/v1/rights/allow").status_code == 403
    assert client.patch("/api/v1/rights/allow", json=[]).status_code == 403


def test_config_status_and_rights(client, db, sign_in_as, exchange_world) -> None:
    world = exchange_world
    sign_in_as("admin")
    assert client.get("/api/v1/status").json()["status"] == "ok"
    allowed = client.patch("/api/v1/rights/allow", json=_rights_body(world, [DTKS]))
    assert allowed.status_code == 200 and allowed.json() == {"allowed": 1}
    config = client.get("/api/v1/config").json()
    assert config["instance"] == "ID" and config["domain"] == "127.0.0.1"
    member = next(m for m in config["members"] if m["code"] == "kemendagri")
    (app,) = member["applications"]
    (service,) = app["services"]
    assert service["serviceUrl"] == "http://127.0.0.1:9/population"
    assert service["specUrl"].endswith("/population-register/getOpenAPI?serviceCode=population")
    assert service["rights"] == [{"member": "kemensos", "application": "dtks"}]
    listed = client.get("/api/v1/rights/allow").json()
    assert listed["allowList"][0]["rights"] == [DTKS] and "nextPageToken" not in listed
    # Pagination with an opaque token.
    registry.grant_access(
        session=db,
        actor=ADMIN,
        service_id=world.service.id,
        client_subsystem_id=world.consumer.subsystem.id,
        operation="GET /persons/{nik}",
    )
    db.commit()
    first = client.get("/api/v1/rights/allow", params={"pageSize": 1}).json()
    token = first["nextPageToken"]
    second = client.get(
        "/api/v1/rights/allow", params={"pageSize": 1, "nextPageToken": token}
    ).json()
    assert second["allowList"][0]["rights"][0]["operation"] == "GET /persons/{nik}"
    assert "nextPageToken" not in second
    for bad in ["!!!", "eyJ4IjoxfQ", "eyJhZnRlciI6LTF9"]:
        response = client.get("/api/v1/rights/allow", params={"nextPageToken": bad})
        assert response.status_code == 400, response.text
    assert client.get("/api/v1/rights/allow", params={"pageSize": 0}).status_code == 422
    # Deny removes every right of the application; unknown names are refused, nothing changed.
    unknown = _rights_body(world, [{**DTKS, "applicationId": "nope"}])
    assert client.patch("/api/v1/rights/deny", json=unknown).status_code == 404
    assert client.patch("/api/v1/rights/allow", json=[{"x": 1}]).status_code == 422
    denied = client.patch("/api/v1/rights/deny", json=_rights_body(world, [DTKS]))
    assert denied.json() == {"denied": 2}
    assert client.get("/api/v1/rights/allow").json()["allowList"] == []
    # The configuration is read-only here.
    assert client.post("/api/v1/config", json={}).status_code == 405
