"""A subscription states its purpose (X-Road-Purpose), and a legal mandate lets a resident's
event through only for the purpose it was registered for, as on the gateway."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import utcnow
from satu.exchange import pubsub, pubsub_events, registry, tracker
from satu.exchange.models import Delivery, ExchangeService, Subscription
from tests.exchange._pubsub_support import make_resident
from tests.exchange.conftest import ADMIN, ExchangeClient, ExchangeWorld, consumer_headers

EVENT_TYPE = "birth-registered"
SCHEMA: dict[str, Any] = {"type": "object", "required": ["place"]}
BIRTH = {"place": "RSUD Bandung"}
MANDATE_PURPOSE = "social-assistance-eligibility"
# Malformed purposes (the gateway's own test refuses the same ones).
BAD_PURPOSES = ["", "   ", "no spaces allowed", "x" * 101, "-leading-dash", "semi;colon"]


@dataclass
class Room:
    publisher: ExchangeClient
    kemensos: ExchangeClient  # holds a mandate on the event type, for MANDATE_PURPOSE
    kemenkes: ExchangeClient  # holds no mandate
    base: str
    headers: dict[str, dict[str, str]]
    service_id: int  # the event type's `event:` service
    mandate_id: int

    def subs_url(self) -> str:
        return f"{self.base}/api/v1/subs/{EVENT_TYPE}"


@pytest.fixture
def room(client: TestClient, db: Session, make_client: Callable[..., ExchangeClient]) -> Room:
    publisher = make_client("kemendagri.dukcapil", "civil-registry")
    kemensos = make_client("kemensos", "pkh")
    kemenkes = make_client("kemenkes", "satusehat")
    headers = {
        name: consumer_headers(client, who)
        for name, who in (("pub", publisher), ("kemensos", kemensos), ("kemenkes", kemenkes))
    }
    base = f"/r1/{publisher.xroad_id}"
    created = client.post(
        f"{base}/api/v1/eventType",
        json={"eventType": EVENT_TYPE, "schema": SCHEMA},
        headers=headers["pub"],
    )
    assert created.status_code == 200, created.text
    for who in (kemensos, kemenkes):
        pubsub.grant_subscription_right(
            session=db,
            publisher=publisher.subsystem,
            event_type=EVENT_TYPE,
            subscriber=who.subsystem,
            granted_by="test",
        )
    service_id = db.scalar(
        select(ExchangeService.id).where(
            ExchangeService.subsystem_id == publisher.subsystem.id,
            ExchangeService.service_code == f"event:{EVENT_TYPE}",
        )
    )
    assert service_id is not None
    mandate = registry.add_mandate(
        session=db,
        actor=ADMIN,
        service_id=service_id,
        client_agency_id="kemensos",
        purpose=MANDATE_PURPOSE,
        legal_basis="UU 13/2011 tentang Penanganan Fakir Miskin, Pasal 8",
    )
    db.commit()
    return Room(publisher, kemensos, kemenkes, base, headers, service_id, mandate.id)


def _xroad_error(response: Any, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["X-Road-Error"] == type_
    body: dict[str, Any] = response.json()
    assert body["type"] == type_ and body["message"]
    return body


def _subscribe(client: TestClient, room: Room, who: str, header: str | None, **body: Any) -> Any:
    """Subscribe `who` for PULL, with `header` as X-Road-Purpose (None: no header)."""
    headers = dict(room.headers[who])
    if header is not None:
        headers["X-Road-Purpose"] = header
    return client.post(room.subs_url(), json={"delivery": "PULL", **body}, headers=headers)


def _publish(client: TestClient, room: Room, nik: str) -> str:
    response = client.post(
        f"{room.base}/pub/v1/{EVENT_TYPE}",
        json={"eventType": EVENT_TYPE, "event": BIRTH},
        headers={**room.headers["pub"], "X-Road-UserId": f"ID{nik}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _delivery(db: Session, event_id: str, who: ExchangeClient) -> Delivery:
    db.expire_all()
    row = db.scalar(
        select(Delivery)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .where(
            Delivery.event_id == event_id,
            Subscription.subscriber_subsystem_id == who.subsystem.id,
        )
    )
    assert row is not None
    return row


def _pull(client: TestClient, room: Room, who: str) -> Any:
    return client.get(f"{room.base}/pull/v1/{EVENT_TYPE}", headers=room.headers[who])


def _consent(db: Session, nik: str, who: ExchangeClient) -> None:
    """The resident's standing consent to `who`'s agency (through its OIDC client)."""
    from satu.identity import service as identity
    from satu.identity.oidc.models import Consent

    account = identity.account_for_nik(session=db, nik=nik)
    assert account is not None
    db.add(
        Consent(
            account_id=account.id, client_id=who.client_id, scopes=["openid"], granted_at=utcnow()
        )
    )
    db.commit()


# --- delivery ------------------------------------------------------------------------------------


def test_a_mandate_lets_events_through_for_its_own_purpose(
    client: TestClient, db: Session, room: Room
) -> None:
    subscribed = _subscribe(client, room, "kemensos", MANDATE_PURPOSE)
    assert subscribed.status_code == 200, subscribed.text
    assert subscribed.json()["purpose"] == MANDATE_PURPOSE
    got = client.get(room.subs_url(), headers=room.headers["kemensos"])
    assert got.json()["purpose"] == MANDATE_PURPOSE
    listed = client.get(f"{room.base}/api/v1/subs", headers=room.headers["kemensos"])
    assert [s["purpose"] for s in listed.json()] == [MANDATE_PURPOSE]

    nik = make_resident(db, 31)  # no consent to anyone
    event_id = _publish(client, room, nik)
    row = _delivery(db, event_id, room.kemensos)
    assert row.status == "pending" and row.last_error == ""
    pulled = _pull(client, room, "kemensos")
    assert pulled.status_code == 200 and pulled.json()["id"] == event_id
    # The resident's data tracker names Kemensos as the receiver.
    [record] = tracker.find_usage(session=db, nik=nik).records
    assert [p.agency_name for p in record.receivers] == ["Kementerian Sosial"]


def test_the_basis_named_is_the_purposes_mandate(db: Session, room: Room) -> None:
    """The basis is `mandate:<id>` of the mandate for that purpose, never another one."""
    nik = make_resident(db, 32)
    subscriber = room.kemensos.subsystem
    service_id = room.service_id
    other = registry.add_mandate(
        session=db,
        actor=ADMIN,
        service_id=service_id,
        client_agency_id="kemensos",
        purpose="statistics",
        legal_basis="UU 16/1997 tentang Statistik",
    )
    db.flush()
    assert pubsub_events._lawful_basis(db, service_id, subscriber, nik, MANDATE_PURPOSE) == (
        f"mandate:{room.mandate_id}"
    )
    assert pubsub_events._lawful_basis(db, service_id, subscriber, nik, "statistics") == (
        f"mandate:{other.id}"
    )
    assert pubsub_events._lawful_basis(db, service_id, subscriber, nik, "bansos") == ""
    assert pubsub_events._lawful_basis(db, service_id, subscriber, nik, "") == ""
    # Kemenkes holds no mandate, whatever purpose it names.
    kemenkes = room.kemenkes.subsystem
    assert pubsub_events._lawful_basis(db, service_id, kemenkes, nik, MANDATE_PURPOSE) == ""


def test_a_mandate_for_another_purpose_does_not_count(
    client: TestClient, db: Session, room: Room
) -> None:
    subscribed = _subscribe(client, room, "kemensos", "population-statistics")
    assert subscribed.status_code == 200, subscribed.text
    nik = make_resident(db, 33)
    event_id = _publish(client, room, nik)
    row = _delivery(db, event_id, room.kemensos)
    assert row.status == "withheld"
    assert "'population-statistics'" in row.last_error and "no mandate" in row.last_error
    _xroad_error(_pull(client, room, "kemensos"), 404, "Client.NotFound")
    assert tracker.find_usage(session=db, nik=nik).records[0].receivers == []

    # Changing the subscription's purpose (PATCH with X-Road-Purpose) lets the next one through.
    patched = client.patch(
        room.subs_url(),
        json={"delivery": "PULL"},
        headers={**room.headers["kemensos"], "X-Road-Purpose": MANDATE_PURPOSE},
    )
    assert patched.status_code == 201, patched.text
    assert patched.json()["purpose"] == MANDATE_PURPOSE
    second = _publish(client, room, nik)
    assert _delivery(db, second, room.kemensos).status == "pending"
    # A PATCH that states no purpose keeps the stated one.
    kept = client.patch(
        room.subs_url(), json={"delivery": "PULL"}, headers=room.headers["kemensos"]
    )
    assert kept.status_code == 201 and kept.json()["purpose"] == MANDATE_PURPOSE


def test_a_mandate_not_in_force_does_not_count(client: TestClient, db: Session, room: Room) -> None:
    registry.end_mandate(session=db, actor=ADMIN, mandate_id=room.mandate_id)
    service_id = room.service_id
    registry.add_mandate(  # right purpose, but only from tomorrow
        session=db,
        actor=ADMIN,
        service_id=service_id,
        client_agency_id="kemensos",
        purpose=MANDATE_PURPOSE,
        legal_basis="UU 13/2011 tentang Penanganan Fakir Miskin, Pasal 8",
        valid_from=utcnow() + timedelta(days=1),
    )
    db.commit()
    assert _subscribe(client, room, "kemensos", MANDATE_PURPOSE).status_code == 200
    nik = make_resident(db, 34)
    assert _delivery(db, _publish(client, room, nik), room.kemensos).status == "withheld"


def test_without_a_purpose_only_consent_counts(client: TestClient, db: Session, room: Room) -> None:
    subscribed = _subscribe(client, room, "kemensos", None)
    assert subscribed.status_code == 200, subscribed.text
    assert subscribed.json()["purpose"] is None
    stored = db.scalar(
        select(Subscription.purpose).where(Subscription.id == subscribed.json()["id"])
    )
    assert stored == ""
    # Kemensos' mandate is for a purpose this subscription never stated: withheld.
    stranger = make_resident(db, 35)
    row = _delivery(db, _publish(client, room, stranger), room.kemensos)
    assert row.status == "withheld" and "states no purpose" in row.last_error
    # A resident who consented to Kemensos: delivered, on that consent.
    consenting = make_resident(db, 36)
    _consent(db, consenting, room.kemensos)
    event_id = _publish(client, room, consenting)
    assert _delivery(db, event_id, room.kemensos).status == "pending"
    assert _pull(client, room, "kemensos").json()["id"] == event_id
    subscriber = room.kemensos.subsystem
    basis = pubsub_events._lawful_basis(db, None, subscriber, consenting, "")
    assert basis.startswith("consent:")


def test_consent_counts_whatever_the_purpose(client: TestClient, db: Session, room: Room) -> None:
    assert _subscribe(client, room, "kemenkes", "health-followup").status_code == 200
    nik = make_resident(db, 37)
    assert _delivery(db, _publish(client, room, nik), room.kemenkes).status == "withheld"
    _consent(db, nik, room.kemenkes)
    assert _delivery(db, _publish(client, room, nik), room.kemenkes).status == "pending"


def test_events_naming_no_resident_ignore_the_purpose(
    client: TestClient, db: Session, room: Room
) -> None:
    assert _subscribe(client, room, "kemenkes", None).status_code == 200
    response = client.post(
        f"{room.base}/pub/v1/{EVENT_TYPE}",
        json={"eventType": EVENT_TYPE, "event": BIRTH},
        headers=room.headers["pub"],
    )
    assert response.status_code == 201, response.text
    assert _delivery(db, response.json()["id"], room.kemenkes).status == "pending"


# --- stating the purpose -------------------------------------------------------------------------


@pytest.fixture
def gateway_refusal(
    client: TestClient, db: Session, exchange_world: ExchangeWorld
) -> Callable[[str], Any]:
    """What the gateway answers a call whose X-Road-Purpose is `purpose` (the consumer holds
    the right, so the purpose is what it refuses)."""
    registry.grant_access(
        session=db,
        actor=ADMIN,
        service_id=exchange_world.service.id,
        client_subsystem_id=exchange_world.consumer.subsystem.id,
    )
    db.commit()
    headers = consumer_headers(client, exchange_world.consumer)
    url = f"/r1/{exchange_world.service.xroad_id}/health"

    def call(purpose: str) -> Any:
        return client.get(url, headers={**headers, "X-Road-Purpose": purpose})

    return call


@pytest.mark.parametrize("purpose", BAD_PURPOSES)
def test_a_malformed_purpose_is_refused_as_the_gateway_refuses_it(
    client: TestClient,
    db: Session,
    room: Room,
    gateway_refusal: Callable[[str], Any],
    purpose: str,
) -> None:
    gateway = _xroad_error(gateway_refusal(purpose), 400, "Client.MissingPurpose")
    in_header = _xroad_error(
        _subscribe(client, room, "kemensos", purpose), 400, "Client.MissingPurpose"
    )
    assert in_header["message"] == gateway["message"]
    in_body = _xroad_error(
        _subscribe(client, room, "kemensos", None, purpose=purpose), 400, "Client.MissingPurpose"
    )
    assert in_body["message"] == gateway["message"]
    assert db.scalar(select(Subscription.id)) is None  # nothing subscribed
    # Nor may an update state one.
    assert _subscribe(client, room, "kemensos", MANDATE_PURPOSE).status_code == 200
    patched = client.patch(
        room.subs_url(),
        json={"delivery": "PULL"},
        headers={**room.headers["kemensos"], "X-Road-Purpose": purpose},
    )
    _xroad_error(patched, 400, "Client.MissingPurpose")
    got = client.get(room.subs_url(), headers=room.headers["kemensos"])
    assert got.json()["purpose"] == MANDATE_PURPOSE


def test_the_purpose_may_come_in_the_body(client: TestClient, db: Session, room: Room) -> None:
    in_body = _subscribe(client, room, "kemensos", None, purpose=MANDATE_PURPOSE)
    assert in_body.status_code == 200, in_body.text
    assert in_body.json()["purpose"] == MANDATE_PURPOSE
    # Header and body may both be given when they agree (surrounding spaces do not count) ...
    agree = _subscribe(client, room, "kemenkes", f" {MANDATE_PURPOSE} ", purpose=MANDATE_PURPOSE)
    assert agree.status_code == 200 and agree.json()["purpose"] == MANDATE_PURPOSE
    # ... never when they differ, nor with a purpose that is not a string.
    client.delete(room.subs_url(), headers=room.headers["kemenkes"])
    _xroad_error(
        _subscribe(client, room, "kemenkes", "health", purpose=MANDATE_PURPOSE),
        400,
        "Client.BadRequest",
    )
    _xroad_error(
        _subscribe(client, room, "kemenkes", None, purpose=["x"]), 400, "Client.BadRequest"
    )
    _xroad_error(
        client.get(room.subs_url(), headers=room.headers["kemenkes"]), 404, "Client.NotFound"
    )


# --- migration -----------------------------------------------------------------------------------


def test_migration_0007_gives_existing_subscriptions_no_purpose(
    settings: Settings, scratch_database_url: str
) -> None:
    """Up: an existing subscription (with a delivery) gets ''; down: the column goes, rows stay."""
    from sqlalchemy import inspect, text

    from satu.core.db import make_engine
    from satu.core.migrations import downgrade, upgrade

    engine = make_engine(settings, scratch_database_url)
    try:
        upgrade(engine, "0006")
        now = utcnow()
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO exchange_subsystem (id, member_class, member_code, "
                    "subsystem_code, agency_id, name, require_signature, rate_limit_per_minute, "
                    "enabled, created_at) VALUES (1, 'GOV', 'kemensos', 'dtks', 'kemensos', "
                    "'DTKS', false, 0, true, :now)"
                ),
                {"now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO exchange_event_type (id, publisher_subsystem_id, event_type, "
                    "description, created_at) VALUES (1, 1, 'birth-registered', '', :now)"
                ),
                {"now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO exchange_subscription (id, event_type_id, "
                    "subscriber_subsystem_id, mode, options, active, created_at) "
                    "VALUES ('s-1', 1, 1, 'pull', '{}', true, :now)"
                ),
                {"now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO exchange_event (id, event_type_id, payload, published_at) "
                    "VALUES ('e-1', 1, '{}', :now)"
                ),
                {"now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO exchange_delivery (event_id, subscription_id, status, attempts, "
                    "next_attempt_at, last_error) VALUES ('e-1', 's-1', 'pending', 0, :now, '')"
                ),
                {"now": now},
            )
        upgrade(engine, "0007")
        with engine.connect() as connection:
            purposes = connection.execute(text("SELECT purpose FROM exchange_subscription"))
            assert purposes.scalars().all() == [""]
        downgrade(engine, "0006")
        columns = {c["name"] for c in inspect(engine).get_columns("exchange_subscription")}
        assert "purpose" not in columns
        with engine.connect() as connection:
            assert connection.execute(
                text("SELECT subscription_id FROM exchange_delivery")
            ).scalars().all() == ["s-1"]
    finally:
        engine.dispose()
