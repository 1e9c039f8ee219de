"""Review: discovery and configuration never show pub/sub's internal `event:*` services."""

from __future__ import annotations

from satu.exchange import pubsub, registry
from satu.exchange.pubsub_schemas import EventTypeIn
from tests.exchange.conftest import ADMIN, consumer_headers

R1 = "/r1/ID/GOV/kemendagri/population-register"


def _event_type(db, world) -> None:
    pubsub.create_event_type(
        session=db,
        publisher=world.provider.subsystem,
        data=EventTypeIn.model_validate({"eventType": "birth-registered", "schema": {}}),
    )
    pubsub.grant_subscription_right(
        session=db,
        publisher=world.provider.subsystem,
        event_type="birth-registered",
        subscriber=world.consumer.subsystem,
        granted_by="test",
    )
    registry.grant_access(
        session=db,
        actor=ADMIN,
        service_id=world.service.id,
        client_subsystem_id=world.consumer.subsystem.id,
    )
    db.commit()


def test_metaservices_do_not_list_event_services(client, db, exchange_world) -> None:
    _event_type(db, exchange_world)
    listed = client.get(R1 + "/listMethods").json()
    assert [s["service_code"] for s in listed["service"]] == ["population"]
    assert "event:" not in str(listed)
    by_id = client.get(R1 + "/listMethods", params={"serviceId": "event:birth-registered"})
    assert by_id.json()["service"] == []
    headers = consumer_headers(client, exchange_world.consumer)
    allowed = client.get(R1 + "/allowedMethods", headers=headers).json()
    assert [s["service_code"] for s in allowed["service"]] == ["population"]
    spec = client.get(R1 + "/getOpenAPI", params={"serviceCode": "event:birth-registered"})
    assert spec.status_code == 404, spec.text
    assert spec.headers["x-road-error"] == "Server.ClientProxy.UnknownService"


def test_configuration_does_not_list_event_services(client, db, exchange_world, sign_in_as):
    _event_type(db, exchange_world)
    sign_in_as("admin")
    config = client.get("/api/v1/config")
    assert config.status_code == 200, config.text
    assert "event:" not in config.text
    status = client.get("/api/v1/status").json()
    assert status["services"] == len(
        [s for s in registry.list_services(session=db) if ":" not in s.service_code]
    )
    rights = client.get("/api/v1/rights/allow").json()
    assert "event:" not in str(rights)
    assert any(entry["serviceId"] == "population" for entry in rights["allowList"])
