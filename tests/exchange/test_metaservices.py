"""Discovery metaservices: listClients, listMethods, allowedMethods, getOpenAPI."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from satu.exchange import registry
from tests.exchange.conftest import ADMIN, consumer_headers

R1 = "/r1/ID/GOV/kemendagri/population-register"


def _xroad_error(response, status: int, kind: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["x-road-error"] == kind
    assert set(response.json()) == {"type", "message", "detail"}


def test_list_clients_json_and_xml(client, db, exchange_world) -> None:
    body = client.get("/listClients").json()
    ids = [m["id"] for m in body["member"]]
    member = next(i for i in ids if i["object_type"] == "MEMBER" and i["member_code"] == "kemensos")
    assert member["xroad_instance"] == "ID" and member["objectType"] == "MEMBER"
    sub = next(i for i in ids if i.get("subsystem_code") == "dtks")
    assert sub["object_type"] == "SUBSYSTEM" and sub["objectType"] == "APPLICATION"
    assert sub["applicationCode"] == "dtks" and sub["instanceId"] == "ID"
    names = {m["id"].get("subsystem_code"): m["name"] for m in body["member"]}
    assert names[None]  # members carry their agency's name
    xml = client.get("/listClients", headers={"Accept": "text/xml"})
    assert xml.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(xml.content)
    assert root.tag == "{http://x-road.eu/xsd/xroad.xsd}clientList"
    codes = [e.text for e in root.iter("{http://x-road.eu/xsd/identifiers}subsystemCode")]
    assert "dtks" in codes and "population-register" in codes
    assert client.get("/listClients", params={"instanceId": "ID"}).status_code == 200
    _xroad_error(client.get("/listClients", params={"instanceId": "EE"}), 400, "Client.BadRequest")
    # A disabled subsystem is not listed.
    registry.update_subsystem(
        session=db, actor=ADMIN, subsystem_id=exchange_world.consumer.subsystem.id, enabled=False
    )
    db.commit()
    again = client.get("/listClients").json()
    assert "dtks" not in {m["id"].get("subsystem_code") for m in again["member"]}


def test_list_methods(client, db, exchange_world) -> None:
    body = client.get(R1 + "/listMethods").json()
    assert body["service"] == body["member"]
    (service,) = body["service"]
    assert service["service_code"] == "population" and service["serviceCode"] == "population"
    assert service["xroad_instance"] == "ID" and service["subsystem_code"] == "population-register"
    assert {"method": "GET", "path": "/persons/{nik}"} in service["endpoint_list"]
    assert service["endpointList"]["member"] == service["endpoint_list"]
    assert "base_url" not in str(body) and "127.0.0.1:9" not in str(body)
    assert client.get(R1 + "/listMethods", params={"serviceId": "nope"}).json()["service"] == []
    registry.disable_service(session=db, actor=ADMIN, service_id=exchange_world.service.id)
    db.commit()
    assert client.get(R1 + "/listMethods").json()["service"] == []
    _xroad_error(
        client.get("/r1/ID/GOV/kemendagri/nope/listMethods"),
        404,
        "Server.ClientProxy.UnknownMember",
    )
    _xroad_error(client.get("/r1/ID/GOV/kemen%3Bdagri/x/listMethods"), 400, "Client.BadRequest")


def test_allowed_methods_needs_the_caller(client, db, exchange_world) -> None:
    world = exchange_world
    _xroad_error(client.get(R1 + "/allowedMethods"), 400, "Client.BadRequest")
    headers = consumer_headers(client, world.consumer)
    _xroad_error(
        client.get(R1 + "/allowedMethods", headers={"X-Road-Client": world.consumer.xroad_id}),
        401,
        "Client.Unauthorized",
    )
    assert client.get(R1 + "/allowedMethods", headers=headers).json()["service"] == []
    registry.grant_access(
        session=db,
        actor=ADMIN,
        service_id=world.service.id,
        client_subsystem_id=world.consumer.subsystem.id,
        operation="GET /persons/{nik}",
    )
    db.commit()
    (service,) = client.get(R1 + "/allowedMethods", headers=headers).json()["service"]
    assert service["endpoint_list"] == [{"method": "GET", "path": "/persons/{nik}"}]
    # The GovStack header name works too.
    govstack = {
        "Authorization": headers["Authorization"],
        "X-GovStack-Client": world.consumer.xroad_id,
    }
    assert client.get(R1 + "/allowedMethods", headers=govstack).json()["member"]


def test_get_openapi_points_at_the_gateway(client, db, exchange_world) -> None:
    world = exchange_world
    registry.update_service(
        session=db, actor=ADMIN, service_id=world.service.id, operations=["GET /persons/{nik}"]
    )
    db.commit()
    document = client.get(R1 + "/getOpenAPI", params={"serviceCode": "population"}).json()
    assert document["openapi"] == "3.0.3"
    assert document["servers"] == [
        {
            "url": "http://127.0.0.1:8000/r1/ID/GOV/kemendagri/population-register/population",
            "description": "Satu exchange gateway",
        }
    ]
    # Only exposed operations are described.
    assert list(document["paths"]) == ["/persons/{nik}"]
    _xroad_error(client.get(R1 + "/getOpenAPI"), 400, "Client.BadRequest")
    _xroad_error(
        client.get(R1 + "/getOpenAPI", params={"serviceCode": "nope"}),
        404,
        "Server.ClientProxy.UnknownService",
    )
