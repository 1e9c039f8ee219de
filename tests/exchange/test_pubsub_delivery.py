"""Push delivery: signed webhooks to real loopback servers, retries, dead letters, safe claims."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from satu.core.db import make_sessionmaker, transaction, utcnow
from satu.exchange import delivery, keys, pubsub, pubsub_events, pubsub_subs, signatures
from satu.exchange.models import (
    Delivery,
    Event,
    EventType,
    MemberKey,
    Subscription,
    Subsystem,
)
from satu.exchange.pubsub_schemas import EventTypeIn, SubscriptionIn
from tests.exchange._pubsub_support import subscriber_backend
from tests.exchange.conftest import ExchangeClient

SCHEMA = {
    "type": "object",
    "required": ["nik_hash"],
    "properties": {"nik_hash": {"type": "string"}},
}


@pytest.fixture
def parties(make_client: Callable[..., ExchangeClient]) -> tuple[ExchangeClient, ExchangeClient]:
    return make_client("kemendagri.dukcapil", "civil-registry"), make_client("kemensos", "dtks")


def _setup_push(
    db: Session,
    publisher: ExchangeClient,
    subscriber: ExchangeClient,
    url: str,
    purpose: str | None = None,
    **options: Any,
) -> None:
    pubsub.create_event_type(
        session=db,
        publisher=publisher.subsystem,
        data=EventTypeIn.model_validate({"eventType": "address-changed", "schema": SCHEMA}),
    )
    pubsub.grant_subscription_right(
        session=db,
        publisher=publisher.subsystem,
        event_type="address-changed",
        subscriber=subscriber.subsystem,
        granted_by="test",
    )
    pubsub_subs.subscribe(
        session=db,
        publisher=publisher.subsystem,
        event_type="address-changed",
        subscriber=subscriber.subsystem,
        item=SubscriptionIn(delivery="PUSH", pushUrl=url, options=options or {}, purpose=purpose),
    )
    db.commit()


def _publish(db: Session, publisher: ExchangeClient, n: int = 1) -> list[str]:
    ids = []
    for i in range(n):
        item = pubsub_events.publish(
            session=db,
            publisher=publisher.subsystem,
            event_type="address-changed",
            payload={"nik_hash": f"h{i}"},
        )
        ids.append(item.id)
    db.commit()
    return ids


def _statuses(db: Session) -> list[tuple[str, int]]:
    db.expire_all()
    return [(d.status, d.attempts) for d in db.scalars(select(Delivery).order_by(Delivery.id))]


def test_push_is_signed_by_the_publisher_and_verifies(
    db: Session,
    session_factory: sessionmaker[Session],
    parties: tuple[ExchangeClient, ExchangeClient],
) -> None:
    publisher, subscriber = parties
    with subscriber_backend() as (url, recorder):
        _setup_push(db, publisher, subscriber, url)
        [event_id] = _publish(db, publisher)
        report = delivery.deliver_once(factory=session_factory)
    assert (report.claimed, report.delivered) == (1, 1)
    assert _statuses(db) == [("delivered", 1)]
    [sent] = recorder.requests
    body = json.loads(sent["body"])
    assert body["id"] == event_id and body["eventType"] == "address-changed"
    assert body["event"] == {"nik_hash": "h0"}
    assert body["publisherId"]["applicationCode"] == "civil-registry"
    headers = httpx.Headers(sent["headers"])
    assert headers["x-road-client"] == publisher.xroad_id

    def lookup(key_id: str) -> Any:
        return keys.public_key(session=db, key_id=key_id)

    verified = signatures.verify_request(
        method="POST",
        url=sent["url"],
        headers=headers,
        body=sent["body"],
        lookup=lookup,
        member=(publisher.subsystem.member_class, publisher.subsystem.member_code),
    )
    assert "content-digest" in verified.covered and "x-road-client" in verified.covered
    # A tampered body does not verify.
    with pytest.raises(signatures.SignatureError):
        signatures.verify_request(
            method="POST",
            url=sent["url"],
            headers=headers,
            body=sent["body"].replace(b"h0", b"h1"),
            lookup=lookup,
        )
    # Nothing is due any more.
    assert delivery.deliver_once(factory=session_factory).claimed == 0


def test_subscriber_down_retries_with_backoff_then_dead_letter_then_requeue(
    db: Session,
    session_factory: sessionmaker[Session],
    parties: tuple[ExchangeClient, ExchangeClient],
) -> None:
    publisher, subscriber = parties
    with subscriber_backend(status=503) as (url, recorder):
        _setup_push(db, publisher, subscriber, url)
        _publish(db, publisher)
        first = delivery.deliver_once(factory=session_factory, max_attempts=3)
        assert (first.claimed, first.retried) == (1, 1)
        row = db.scalars(select(Delivery)).one()
        db.refresh(row)
        assert row.status == "pending" and row.attempts == 1 and row.last_error == "HTTP 503"
        delay = (row.next_attempt_at - utcnow()).total_seconds()
        assert 1.0 < delay <= 2.3  # base 2 s, +10 % jitter at most
        # Not due yet: nothing is claimed.
        assert delivery.deliver_once(factory=session_factory, max_attempts=3).claimed == 0
        for expected_attempts, lower in ((2, 3.0), (3, None)):
            row.next_attempt_at = utcnow() - timedelta(seconds=1)
            db.commit()
            delivery.deliver_once(factory=session_factory, max_attempts=3)
            db.refresh(row)
            assert row.attempts == expected_attempts
            if lower is not None:
                assert row.status == "pending"
                assert (row.next_attempt_at - utcnow()).total_seconds() > lower  # 4 s: doubled
        assert row.status == "dead"
        assert len(recorder.requests) == 3
        [dead] = delivery.list_deliveries(session=db)
        assert dead.id == row.id and dead.attempts == 3 and dead.subscriber == subscriber.xroad_id
        # A dead delivery is never retried by the worker.
        assert delivery.deliver_once(factory=session_factory).claimed == 0
        recorder.status = 204  # the subscriber is back
        assert delivery.requeue(session=db, delivery_ids=[row.id]) == 1
        db.commit()
        assert delivery.deliver_once(factory=session_factory).delivered == 1
    db.refresh(row)
    assert row.status == "delivered" and row.attempts == 1


def test_connection_refused_counts_as_a_failed_attempt(
    db: Session,
    session_factory: sessionmaker[Session],
    parties: tuple[ExchangeClient, ExchangeClient],
) -> None:
    publisher, subscriber = parties
    with subscriber_backend() as (url, _recorder):
        pass  # started and stopped: nothing listens there any more
    _setup_push(db, publisher, subscriber, url, purpose="bansos-verification")
    _publish(db, publisher)
    report = delivery.deliver_once(factory=session_factory, max_attempts=1, timeout=2)
    assert report.dead == 1
    [dead] = delivery.list_deliveries(session=db)
    assert dead.last_error.startswith("connection failed")
    assert dead.purpose == "bansos-verification"  # the admin sees on what basis it was sent


def test_fifo_subscriptions_get_events_one_at_a_time_in_order(
    db: Session,
    session_factory: sessionmaker[Session],
    parties: tuple[ExchangeClient, ExchangeClient],
) -> None:
    publisher, subscriber = parties
    with subscriber_backend() as (url, recorder):
        _setup_push(db, publisher, subscriber, url, FIFO=True)
        ids = _publish(db, publisher, 3)
        reports = [delivery.deliver_once(factory=session_factory) for _ in range(4)]
    assert [r.claimed for r in reports] == [1, 1, 1, 0]
    assert [json.loads(r["body"])["id"] for r in recorder.requests] == ids


def test_expired_events_are_not_pushed(
    db: Session,
    session_factory: sessionmaker[Session],
    parties: tuple[ExchangeClient, ExchangeClient],
) -> None:
    publisher, subscriber = parties
    with subscriber_backend() as (url, recorder):
        _setup_push(db, publisher, subscriber, url, TTL=60)
        [event_id] = _publish(db, publisher)
        event = db.get(Event, event_id)
        assert event is not None
        event.published_at = utcnow() - timedelta(minutes=5)
        db.commit()
        assert delivery.deliver_once(factory=session_factory).claimed == 0
    assert recorder.requests == []
    assert _statuses(db) == [("expired", 0)]


def test_admin_api_lists_and_requeues_dead_letters(
    client: TestClient,
    db: Session,
    session_factory: sessionmaker[Session],
    parties: tuple[ExchangeClient, ExchangeClient],
) -> None:
    anonymous = client.get("/api/v1/exchange/events/deliveries")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    publisher, subscriber = parties
    _setup_push(db, publisher, subscriber, "http://127.0.0.1:9/hook")
    _publish(db, publisher)
    delivery.deliver_once(factory=session_factory, max_attempts=1, timeout=2)
    from satu.identity import service as identity
    from tests.exchange._pubsub_support import make_resident, sign_in

    nik = make_resident(db, 7301)
    account = identity.account_for_nik(session=db, nik=nik)
    assert account is not None
    sign_in(client, nik)
    assert client.get("/api/v1/exchange/events/deliveries").status_code == 403
    identity.grant_role(session=db, account_id=account.id, role="admin", granted_by="test")
    db.commit()
    listed = client.get("/api/v1/exchange/events/deliveries")
    assert listed.status_code == 200, listed.text
    [dead] = listed.json()
    assert dead["status"] == "dead" and dead["event_type"] == "address-changed"
    bad = client.get("/api/v1/exchange/events/deliveries?status=exploded")
    assert bad.status_code == 422
    from itsdangerous import URLSafeTimedSerializer

    from satu.core.csrf import app_secret

    raw = client.cookies.get("satu_csrf")
    assert raw
    csrf = URLSafeTimedSerializer(app_secret(client.app.state.settings), salt="satu.csrf").dumps(
        raw
    )
    no_token = client.post(f"/api/v1/exchange/events/deliveries/{dead['id']}/requeue")
    assert no_token.status_code == 403
    requeued = client.post(
        f"/api/v1/exchange/events/deliveries/{dead['id']}/requeue",
        headers={"X-CSRF-Token": csrf or "", "Origin": "http://testserver"},
    )
    assert requeued.status_code == 200, requeued.text
    assert requeued.json() == {"requeued": 1}
    again = client.post(
        f"/api/v1/exchange/events/deliveries/{dead['id']}/requeue",
        headers={"X-CSRF-Token": csrf or "", "Origin": "http://testserver"},
    )
    assert again.status_code == 404


# --- many workers, committed data ----------------------------------------------------------------


@pytest.fixture
def committed_queue(
    engine: Engine, reference_data: None
) -> Iterator[tuple[sessionmaker, list[int]]]:
    """40 due push deliveries committed for real (workers use their own connections)."""
    factory = make_sessionmaker(engine)
    code = f"pubsub-claims-{uuid.uuid4().hex[:8]}"
    with transaction(factory) as session:
        pub = Subsystem(
            member_class="GOV", member_code=code, subsystem_code="pub", agency_id="kemensos"
        )
        sub = Subsystem(
            member_class="GOV", member_code=code, subsystem_code="sub", agency_id="kemensos"
        )
        session.add_all([pub, sub])
        session.flush()
        event_type = EventType(publisher_subsystem_id=pub.id, event_type="claims", schema=None)
        session.add(event_type)
        session.flush()
        subscription = Subscription(
            id=str(uuid.uuid4()),
            event_type_id=event_type.id,
            subscriber_subsystem_id=sub.id,
            mode="push",
            push_url="http://127.0.0.1:9/hook",
            options={"TTL": 3600, "FIFO": False},
        )
        session.add(subscription)
        for i in range(40):
            event = Event(id=str(uuid.uuid4()), event_type_id=event_type.id, payload={"i": i})
            session.add(event)
            session.flush()
            session.add(Delivery(event_id=event.id, subscription_id=subscription.id))
        ids = (pub.id, sub.id)
        delivery_ids = list(
            session.scalars(select(Delivery.id).where(Delivery.subscription_id == subscription.id))
        )
    yield factory, delivery_ids
    with transaction(factory) as session:
        session.execute(delete(Subsystem).where(Subsystem.id.in_(ids)))
        session.execute(delete(MemberKey).where(MemberKey.member_code == code))


def test_concurrent_workers_never_claim_the_same_delivery(
    committed_queue: tuple[sessionmaker, list[int]],
) -> None:
    factory, ids = committed_queue
    total = len(ids)
    claimed: list[list[int]] = [[] for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(n: int) -> None:
        try:
            start.wait()
            while True:
                with transaction(factory) as session:
                    jobs = delivery.claim_due(session=session, limit=3)
                    left = session.scalar(
                        select(func.count())
                        .select_from(Delivery)
                        .where(Delivery.id.in_(ids), Delivery.status == "pending")
                    )
                claimed[n].extend(job.delivery_id for job in jobs)
                if not jobs and not left:
                    return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    every = [i for worker in claimed for i in worker]
    assert len(every) == total
    assert len(set(every)) == total  # no delivery claimed twice
    if factory.kw["bind"].dialect.name == "postgresql":
        # FOR UPDATE SKIP LOCKED: workers take different rows at the same time.
        assert sum(1 for worker in claimed if worker) >= 2


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_grants_lists_and_requeues(
    db: Session,
    session_factory: sessionmaker[Session],
    parties: tuple[ExchangeClient, ExchangeClient],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    from typer.testing import CliRunner

    from satu.cli import app as cli_app
    from satu.exchange import pubsub_cli

    monkeypatch.setattr(pubsub_cli, "_factory", lambda: session_factory)
    publisher, subscriber = parties
    runner = CliRunner()
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    added = runner.invoke(
        cli_app,
        [
            "exchange",
            "events",
            "add-type",
            publisher.xroad_id,
            "address-changed",
            "--schema",
            schema,
        ],
    )
    assert added.exit_code == 0, added.output
    dup = runner.invoke(
        cli_app,
        [
            "exchange",
            "events",
            "add-type",
            publisher.xroad_id,
            "address-changed",
            "--schema",
            schema,
        ],
    )
    assert dup.exit_code == 1 and "Client.Conflict" in dup.output
    args = ["exchange", "events", "grant", publisher.xroad_id, "address-changed"]
    granted = runner.invoke(cli_app, [*args, subscriber.xroad_id])
    assert granted.exit_code == 0 and "granted" in granted.output
    unknown = runner.invoke(cli_app, [*args, "ID/GOV/nobody/x"])
    assert unknown.exit_code != 0
    pubsub_subs.subscribe(
        session=db,
        publisher=publisher.subsystem,
        event_type="address-changed",
        subscriber=subscriber.subsystem,
        item=SubscriptionIn(delivery="PUSH", pushUrl="http://127.0.0.1:9/hook"),
    )
    db.commit()
    _publish(db, publisher)
    ran = runner.invoke(cli_app, ["exchange", "events", "deliver", "--once", "--max-attempts", "1"])
    assert ran.exit_code == 0 and "dead 1" in ran.output, ran.output
    listed = runner.invoke(cli_app, ["exchange", "events", "dead"])
    assert "1 dead deliveries" in listed.output
    assert runner.invoke(cli_app, ["exchange", "events", "requeue"]).exit_code != 0
    requeued = runner.invoke(cli_app, ["exchange", "events", "requeue", "--all"])
    assert "1 deliveries re-queued" in requeued.output
    status = runner.invoke(cli_app, ["exchange", "events", "status"])
    assert "pending: 1" in status.output and "dead: 0" in status.output
