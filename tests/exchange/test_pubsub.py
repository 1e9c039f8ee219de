"""GovStack IM PubSub on /r1: event types, subscriptions, publishing, pull and acknowledgement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu.exchange import pubsub, registry
from satu.exchange.models import Delivery, LogEntry
from tests.exchange.conftest import ADMIN, ExchangeClient, consumer_headers

BIRTH_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "dateTime": {"type": "string"},
        "gender": {"type": "string", "enum": ["M", "F"]},
        "place": {"type": "string"},
    },
    "required": ["dateTime", "gender", "place"],
}
BIRTH = {"dateTime": "2026-05-01T11:25:00+07:00", "gender": "F", "place": "RSUD Bandung"}


@dataclass
class Room:
    publisher: ExchangeClient
    subscriber: ExchangeClient
    other: ExchangeClient
    base: str
    pub_headers: dict[str, str]
    sub_headers: dict[str, str]
    other_headers: dict[str, str]


@pytest.fixture
def room(client: TestClient, make_client: Callable[..., ExchangeClient]) -> Room:
    publisher = make_client("kemendagri.dukcapil", "civil-registry")
    subscriber = make_client("kemensos", "dtks")
    other = make_client("kemenkes", "satusehat")
    return Room(
        publisher=publisher,
        subscriber=subscriber,
        other=other,
        base=f"/r1/{publisher.xroad_id}",
        pub_headers=consumer_headers(client, publisher),
        sub_headers=consumer_headers(client, subscriber),
        other_headers=consumer_headers(client, other),
    )


def _xroad_error(response: Any, status: int, type_: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["X-Road-Error"] == type_
    body = response.json()
    assert body["type"] == type_ and body["message"] and body["detail"]


def _create_birth(client: TestClient, room: Room) -> None:
    response = client.post(
        f"{room.base}/api/v1/eventType",
        json={"eventType": "birth-registered", "schema": BIRTH_SCHEMA},
        headers=room.pub_headers,
    )
    assert response.status_code == 200, response.text


def _grant(db: Session, room: Room, who: ExchangeClient) -> None:
    assert pubsub.grant_subscription_right(
        session=db,
        publisher=room.publisher.subsystem,
        event_type="birth-registered",
        subscriber=who.subsystem,
        granted_by="test",
    )
    db.commit()


def _subscribe_pull(client: TestClient, room: Room) -> None:
    response = client.post(
        f"{room.base}/api/v1/subs/birth-registered",
        json={"eventType": "birth-registered", "delivery": "PULL"},
        headers=room.sub_headers,
    )
    assert response.status_code == 200, response.text


# --- event types ---------------------------------------------------------------------------------


def test_event_types_are_managed_by_the_room_owner(client: TestClient, room: Room) -> None:
    _create_birth(client, room)
    listed = client.get(f"{room.base}/api/v1/eventType", headers=room.sub_headers)
    assert listed.status_code == 200 and listed.json() == ["birth-registered"]
    detail = client.get(f"{room.base}/api/v1/eventType/birth-registered", headers=room.sub_headers)
    assert detail.status_code == 200
    assert detail.json()["eventType"] == "birth-registered"
    assert detail.json()["schema"] == BIRTH_SCHEMA
    again = client.post(
        f"{room.base}/api/v1/eventType",
        json={"eventType": "birth-registered", "schema": BIRTH_SCHEMA},
        headers=room.pub_headers,
    )
    _xroad_error(again, 409, "Client.Conflict")
    stranger = client.post(
        f"{room.base}/api/v1/eventType",
        json={"eventType": "death-registered", "schema": {}},
        headers=room.sub_headers,
    )
    _xroad_error(stranger, 403, "Client.AccessDenied")
    deleted = client.delete(
        f"{room.base}/api/v1/eventType/birth-registered", headers=room.pub_headers
    )
    assert deleted.status_code == 204
    gone = client.delete(f"{room.base}/api/v1/eventType/birth-registered", headers=room.pub_headers)
    _xroad_error(gone, 404, "Client.NotFound")
    # The spec answers an empty list and an unknown type with 204.
    assert client.get(f"{room.base}/api/v1/eventType", headers=room.pub_headers).status_code == 204
    missing = client.get(f"{room.base}/api/v1/eventType/nope", headers=room.pub_headers)
    assert missing.status_code == 204


@pytest.mark.parametrize(
    "body",
    [
        {"eventType": "x", "schema": {"type": "no-such-type"}},  # not a JSON Schema
        {"eventType": "bad name!", "schema": {}},
        {"eventType": "x"},  # schema is required
        {"eventType": "x", "schema": {}, "surprise": 1},
        ["not", "an", "object"],
    ],
)
def test_bad_event_types_are_refused(client: TestClient, room: Room, body: Any) -> None:
    response = client.post(f"{room.base}/api/v1/eventType", json=body, headers=room.pub_headers)
    _xroad_error(response, 400, "Client.BadRequest")


def test_pubsub_needs_an_authenticated_client(client: TestClient, room: Room) -> None:
    response = client.get(f"{room.base}/api/v1/eventType")
    assert response.status_code in (400, 401)
    assert response.headers["X-Road-Error"].startswith("Client.")
    forged = client.get(
        f"{room.base}/api/v1/eventType",
        headers={**room.sub_headers, "X-Road-Client": room.publisher.xroad_id},
    )
    assert forged.status_code == 401 and forged.headers["X-Road-Error"] == "Client.Unauthorized"


def test_the_govstack_client_header_stands_for_x_road_client(
    client: TestClient, room: Room
) -> None:
    headers = {
        "Authorization": room.pub_headers["Authorization"],
        "X-GovStack-Client": room.publisher.xroad_id,
    }
    response = client.post(
        f"{room.base}/api/v1/eventType",
        json={"eventType": "birth-registered", "schema": BIRTH_SCHEMA},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    clash = client.get(
        f"{room.base}/api/v1/eventType",
        headers={**room.pub_headers, "X-GovStack-Client": room.other.xroad_id},
    )
    _xroad_error(clash, 400, "Client.BadRequest")


def test_unknown_room_is_an_unknown_member(client: TestClient, room: Room) -> None:
    response = client.get("/r1/ID/GOV/nobody/nothing/api/v1/eventType", headers=room.sub_headers)
    _xroad_error(response, 404, "Server.ClientProxy.UnknownMember")


# --- subscriptions -------------------------------------------------------------------------------


def test_subscribing_needs_the_subscription_right(
    client: TestClient, db: Session, room: Room
) -> None:
    _create_birth(client, room)
    url = f"{room.base}/api/v1/subs/birth-registered"
    refused = client.post(url, json={"delivery": "PULL"}, headers=room.sub_headers)
    _xroad_error(refused, 403, "Client.AccessDenied")
    # The right is an ordinary access right on the publisher's `event:birth-registered` service.
    _grant(db, room, room.subscriber)
    created = client.post(url, json={"delivery": "PULL"}, headers=room.sub_headers)
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["eventType"] == "birth-registered" and body["delivery"] == "PULL"
    assert body["subscriberId"]["memberCode"] == room.subscriber.subsystem.member_code
    assert body["options"] == {"TTL": 3600, "FIFO": False}
    _xroad_error(
        client.post(url, json={"delivery": "PULL"}, headers=room.sub_headers),
        409,
        "Client.Conflict",
    )
    listed = client.get(f"{room.base}/api/v1/subs", headers=room.sub_headers)
    assert [s["eventType"] for s in listed.json()] == ["birth-registered"]
    got = client.get(url, headers=room.sub_headers)
    assert got.status_code == 200 and got.json()["id"] == body["id"]
    patched = client.patch(
        url,
        json={"delivery": "PUSH", "pushUrl": "https://dtks.example.go.id/hooks/birth"},
        headers=room.sub_headers,
    )
    assert patched.status_code == 201, patched.text
    assert patched.json()["pushUrl"] == "https://dtks.example.go.id/hooks/birth"
    assert client.delete(url, headers=room.sub_headers).status_code == 204
    _xroad_error(client.get(url, headers=room.sub_headers), 404, "Client.NotFound")
    _xroad_error(
        client.get(f"{room.base}/api/v1/subs", headers=room.sub_headers), 404, "Client.NotFound"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"delivery": "PUSH"},  # no URL to push to
        {"delivery": "PUSH", "pushUrl": "ftp://example.org/x"},
        {"delivery": "PUSH", "pushUrl": "https://user:pw@example.org/x"},
        {"delivery": "SMOKE"},
        {"eventType": "death-registered", "delivery": "PULL"},
        {"delivery": "PULL", "options": {"TTL": -5}},
    ],
)
def test_bad_subscriptions_are_refused(
    client: TestClient, db: Session, room: Room, body: dict[str, Any]
) -> None:
    _create_birth(client, room)
    _grant(db, room, room.subscriber)
    response = client.post(
        f"{room.base}/api/v1/subs/birth-registered", json=body, headers=room.sub_headers
    )
    _xroad_error(response, 400, "Client.BadRequest")


def test_subscribing_to_an_unknown_event_type(client: TestClient, room: Room) -> None:
    response = client.post(
        f"{room.base}/api/v1/subs/nothing", json={"delivery": "PULL"}, headers=room.sub_headers
    )
    _xroad_error(response, 404, "Client.NotFound")


# --- publishing and pulling ----------------------------------------------------------------


def _publish(client: TestClient, room: Room, event: Any = BIRTH, **headers: str) -> Any:
    return client.post(
        f"{room.base}/pub/v1/birth-registered",
        json={"eventType": "birth-registered", "event": event},
        headers={**room.pub_headers, **headers},
    )


def test_publish_logs_the_event_and_subscribers_pull_and_acknowledge(
    client: TestClient, db: Session, room: Room
) -> None:
    _create_birth(client, room)
    _grant(db, room, room.subscriber)
    _subscribe_pull(client, room)
    logged_before = db.scalar(select(func.count()).select_from(LogEntry))
    published = _publish(client, room)
    assert published.status_code == 201, published.text
    event_id = published.json()["id"]
    entries = db.scalars(select(LogEntry).order_by(LogEntry.idx.desc())).first()
    assert db.scalar(select(func.count()).select_from(LogEntry)) == logged_before + 1
    assert entries is not None and entries.kind == "event"
    assert entries.client_id == room.publisher.xroad_id

    status = client.get(f"{room.base}/pub/v1/birth-registered/{event_id}", headers=room.pub_headers)
    assert status.status_code == 200
    assert status.json()["deliveries"] == {"pending": 1}
    assert status.json()["sequence"] == entries.idx

    pull_url = f"{room.base}/pull/v1/birth-registered"
    pulled = client.get(pull_url, headers=room.sub_headers)
    assert pulled.status_code == 200, pulled.text
    item = pulled.json()
    assert item["id"] == event_id and item["event"] == BIRTH
    assert item["eventType"] == "birth-registered"
    assert item["publisherId"] == {
        "instanceId": "ID",
        "memberClass": room.publisher.subsystem.member_class,
        "memberCode": room.publisher.subsystem.member_code,
        "applicationCode": "civil-registry",
    }
    # Not acknowledged yet: the same event again.
    assert client.get(pull_url, headers=room.sub_headers).json()["id"] == event_id
    # Someone else cannot acknowledge it or pull it.
    _xroad_error(
        client.delete(f"{pull_url}/{event_id}", headers=room.other_headers), 409, "Client.Conflict"
    )
    assert client.delete(f"{pull_url}/{event_id}", headers=room.sub_headers).status_code == 204
    _xroad_error(client.get(pull_url, headers=room.sub_headers), 404, "Client.NotFound")
    _xroad_error(
        client.delete(f"{pull_url}/{event_id}", headers=room.sub_headers), 404, "Client.NotFound"
    )
    after = client.get(f"{room.base}/pub/v1/birth-registered/{event_id}", headers=room.pub_headers)
    assert after.json()["deliveries"] == {"delivered": 1}


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"dateTime": "x", "gender": "X", "place": "p"}, "gender"),
        ({"dateTime": "x", "gender": "M"}, "place"),
        ("not an object", None),
    ],
)
def test_malformed_events_are_refused_and_not_logged(
    client: TestClient, db: Session, room: Room, event: Any, reason: str | None
) -> None:
    _create_birth(client, room)
    before = db.scalar(select(func.count()).select_from(LogEntry))
    response = _publish(client, room, event)
    _xroad_error(response, 400, "Client.BadRequest")
    if reason:
        assert reason in response.json()["message"]
    assert db.scalar(select(func.count()).select_from(LogEntry)) == before


def test_publish_bad_paths(client: TestClient, room: Room) -> None:
    _create_birth(client, room)
    unknown = client.post(
        f"{room.base}/pub/v1/nothing",
        json={"eventType": "nothing", "event": {}},
        headers=room.pub_headers,
    )
    _xroad_error(unknown, 404, "Client.NotFound")
    mismatch = client.post(
        f"{room.base}/pub/v1/birth-registered",
        json={"eventType": "other", "event": BIRTH},
        headers=room.pub_headers,
    )
    _xroad_error(mismatch, 400, "Client.BadRequest")
    not_owner = client.post(
        f"{room.base}/pub/v1/birth-registered",
        json={"eventType": "birth-registered", "event": BIRTH},
        headers=room.sub_headers,
    )
    _xroad_error(not_owner, 403, "Client.AccessDenied")
    bad_json = client.post(
        f"{room.base}/pub/v1/birth-registered",
        content=b"{not json",
        headers={**room.pub_headers, "Content-Type": "application/json"},
    )
    assert bad_json.status_code in (400, 422)
    bad_nik = _publish(client, room, BIRTH, **{"X-Road-UserId": "ID123"})
    _xroad_error(bad_nik, 400, "Client.MissingUserId")
    bad_type = client.post(
        f"{room.base}/pub/v1/bad%20type!",
        json={"eventType": "x", "event": {}},
        headers=room.pub_headers,
    )
    _xroad_error(bad_type, 400, "Client.BadRequest")
    long_id = client.get(
        f"{room.base}/pub/v1/birth-registered/{'x' * 500}", headers=room.pub_headers
    )
    _xroad_error(long_id, 404, "Client.NotFound")
    missing = client.get(
        f"{room.base}/pub/v1/birth-registered/0d7c0c1e-0000-4000-8000-000000000000",
        headers=room.pub_headers,
    )
    _xroad_error(missing, 404, "Client.NotFound")


def test_pulling_a_push_subscription_is_a_conflict(
    client: TestClient, db: Session, room: Room
) -> None:
    _create_birth(client, room)
    _grant(db, room, room.subscriber)
    client.post(
        f"{room.base}/api/v1/subs/birth-registered",
        json={"delivery": "PUSH", "pushUrl": "http://127.0.0.1:9/hook"},
        headers=room.sub_headers,
    )
    response = client.get(f"{room.base}/pull/v1/birth-registered", headers=room.sub_headers)
    _xroad_error(response, 409, "Client.Conflict")


def test_deleting_an_event_stops_its_deliveries(
    client: TestClient, db: Session, room: Room
) -> None:
    _create_birth(client, room)
    _grant(db, room, room.subscriber)
    _subscribe_pull(client, room)
    event_id = _publish(client, room).json()["id"]
    url = f"{room.base}/pub/v1/birth-registered/{event_id}"
    assert client.delete(url, headers=room.pub_headers).status_code == 204
    assert client.get(url, headers=room.pub_headers).json()["deliveries"] == {"cancelled": 1}
    pulled = client.get(f"{room.base}/pull/v1/birth-registered", headers=room.sub_headers)
    _xroad_error(pulled, 404, "Client.NotFound")


def test_events_about_a_resident_reach_only_subscribers_with_a_lawful_basis(
    client: TestClient, db: Session, room: Room
) -> None:
    _create_birth(client, room)
    _grant(db, room, room.subscriber)
    _grant(db, room, room.other)
    # Kemensos states the purpose its mandate is registered for (X-Road-Purpose, as on /r1).
    subscribed = client.post(
        f"{room.base}/api/v1/subs/birth-registered",
        json={"delivery": "PULL"},
        headers={**room.sub_headers, "X-Road-Purpose": "bansos"},
    )
    assert subscribed.status_code == 200, subscribed.text
    client.post(
        f"{room.base}/api/v1/subs/birth-registered",
        json={"delivery": "PULL"},
        headers=room.other_headers,
    )
    from satu.exchange.models import ExchangeService

    service_id = db.scalar(
        select(ExchangeService.id).where(
            ExchangeService.subsystem_id == room.publisher.subsystem.id,
            ExchangeService.service_code == "event:birth-registered",
        )
    )
    assert service_id is not None
    registry.add_mandate(
        session=db,
        actor=ADMIN,
        service_id=service_id,
        client_agency_id="kemensos",
        purpose="bansos",
        legal_basis="UU 11/2009 tentang Kesejahteraan Sosial, Pasal 9",
    )
    db.commit()
    nik = "3273015708900001"
    published = _publish(client, room, BIRTH, **{"X-Road-UserId": f"ID{nik}"})
    assert published.status_code == 201, published.text
    statuses = dict(
        db.execute(
            select(Delivery.subscription_id, Delivery.status).where(
                Delivery.event_id == published.json()["id"]
            )
        ).all()
    )
    assert sorted(statuses.values()) == ["pending", "withheld"]
    # Kemensos (mandate) pulls it; Kemenkes (no consent, no mandate) never sees it.
    assert (
        client.get(f"{room.base}/pull/v1/birth-registered", headers=room.sub_headers).status_code
        == 200
    )
    _xroad_error(
        client.get(f"{room.base}/pull/v1/birth-registered", headers=room.other_headers),
        404,
        "Client.NotFound",
    )
    logged = db.scalars(select(LogEntry).order_by(LogEntry.idx.desc())).first()
    from satu.exchange import transparency

    assert logged is not None and logged.subject_key == transparency.subject_key(nik=nik)
    assert nik not in logged.entry.decode()
    # The resident's data tracker shows the event, sent only to Kemensos.
    from satu.exchange import tracker

    usage = tracker.find_usage(session=db, nik=nik)
    [record] = usage.records
    assert record.kind == "event" and record.index == logged.idx
    assert [p.agency_name for p in record.receivers] == ["Kementerian Sosial"]
    assert record.sender.system == room.publisher.xroad_id


def test_revoking_the_right_stops_the_subscription(
    client: TestClient, db: Session, room: Room
) -> None:
    _create_birth(client, room)
    _grant(db, room, room.subscriber)
    _subscribe_pull(client, room)
    assert pubsub.revoke_subscription_right(
        session=db,
        publisher=room.publisher.subsystem,
        event_type="birth-registered",
        subscriber=room.subscriber.subsystem,
    )
    db.commit()
    _publish(client, room)
    pulled = client.get(f"{room.base}/pull/v1/birth-registered", headers=room.sub_headers)
    _xroad_error(pulled, 409, "Client.Conflict")


def test_the_event_service_cannot_be_called_through_the_gateway(
    client: TestClient, db: Session, room: Room
) -> None:
    _create_birth(client, room)
    _grant(db, room, room.subscriber)
    for code in ("event:birth-registered", "event%3Abirth-registered"):
        response = client.get(f"{room.base}/{code}/anything", headers=room.sub_headers)
        assert response.status_code == 400, response.text
        assert response.headers["X-Road-Error"] == "Client.BadRequest"
