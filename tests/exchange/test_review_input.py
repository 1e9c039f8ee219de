"""Review: hostile input to the exchange's pages and APIs is refused cleanly (never a 500)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.exchange._pubsub_support import make_resident, sign_in


def test_tracker_record_index_out_of_range(client: TestClient, db: Any) -> None:
    nik = make_resident(db, 7301)
    db.commit()
    sign_in(client, nik)
    for index in ("-1", str(2**63), str(2**80)):
        response = client.get(f"/akun/jejak-data/{index}", headers={"Accept": "text/html"})
        assert response.status_code in (404, 422), (index, response.status_code)


def test_requeue_id_out_of_range(client: TestClient, sign_in_as: Any) -> None:
    from itsdangerous import URLSafeTimedSerializer

    from satu.core.csrf import app_secret

    sign_in_as("admin")
    assert client.get("/api/v1/exchange/events/deliveries").status_code == 200
    raw = client.cookies.get("satu_csrf")
    assert raw
    csrf = URLSafeTimedSerializer(app_secret(client.app.state.settings), salt="satu.csrf").dumps(
        raw
    )
    headers = {"X-CSRF-Token": csrf, "Origin": "http://testserver"}
    assert (
        client.post("/api/v1/exchange/events/deliveries/1/requeue", headers=headers).status_code
        == 404
    )
    response = client.post(f"/api/v1/exchange/events/deliveries/{2**80}/requeue", headers=headers)
    assert response.status_code == 422, response.text


def test_acknowledge_needs_the_exact_event_id(db: Any, make_client: Any) -> None:
    import pytest

    from satu.exchange import pubsub, pubsub_events, pubsub_subs
    from satu.exchange.pubsub_schemas import EventTypeIn, SubscriptionIn
    from satu.exchange.xroad import XRoadError

    publisher = make_client("kemendagri.dukcapil", "civil-registry").subsystem
    subscriber = make_client("kemensos", "dtks").subsystem
    pubsub.create_event_type(
        session=db,
        publisher=publisher,
        data=EventTypeIn.model_validate({"eventType": "moved", "schema": {}}),
    )
    pubsub.grant_subscription_right(
        session=db, publisher=publisher, event_type="moved", subscriber=subscriber, granted_by="t"
    )
    pubsub_subs.subscribe(
        session=db,
        publisher=publisher,
        event_type="moved",
        subscriber=subscriber,
        item=SubscriptionIn(delivery="PULL"),
    )
    event = pubsub_events.publish(session=db, publisher=publisher, event_type="moved", payload={})
    names = {"session": db, "publisher": publisher, "event_type": "moved", "subscriber": subscriber}
    with pytest.raises(XRoadError):
        pubsub_events.acknowledge(**names, event_id=event.id + "-not-this-one")
    pubsub_events.acknowledge(**names, event_id=event.id)
