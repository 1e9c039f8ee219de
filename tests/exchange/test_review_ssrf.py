"""Review: the exchange never calls link-local/metadata addresses, nor loopback or private ones
unless SATU_EXCHANGE_ALLOW_PRIVATE_URLS allows them (push URLs and service base URLs)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from satu.core.config import Settings, get_settings
from satu.core.errors import Problem
from satu.exchange import delivery, pubsub, pubsub_events, pubsub_subs, registry, urlguard
from satu.exchange.models import Delivery
from satu.exchange.pubsub_schemas import EventTypeIn, SubscriptionIn
from satu.exchange.xroad import XRoadError
from tests.exchange._pubsub_support import subscriber_backend
from tests.exchange.conftest import ADMIN, POPULATION_OPENAPI, ExchangeClient


@pytest.fixture
def production_urls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The production default: loopback and private addresses refused."""
    monkeypatch.setenv("SATU_EXCHANGE_ALLOW_PRIVATE_URLS", "false")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("SATU_EXCHANGE_ALLOW_PRIVATE_URLS")
    get_settings.cache_clear()


def test_setting_defaults_by_environment() -> None:
    assert Settings(env="development").exchange_private_urls_allowed
    assert Settings(env="test").exchange_private_urls_allowed
    assert not Settings(env="production").exchange_private_urls_allowed
    assert Settings(
        env="production", exchange_allow_private_urls=True
    ).exchange_private_urls_allowed
    assert not Settings(
        env="development", exchange_allow_private_urls=False
    ).exchange_private_urls_allowed


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "fe80::1",
        "100.100.100.200",
        "fd00:ec2::254",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_always_refused_addresses(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert urlguard.address_problem(ip, allow_private=True)
    assert urlguard.address_problem(ip, allow_private=False)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.1",
        "::1",
        "10.0.0.5",
        "172.16.1.1",
        "192.168.1.1",
        "100.64.0.1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
    ],
)
def test_private_addresses_need_the_setting(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert urlguard.address_problem(ip, allow_private=True) is None
    assert urlguard.address_problem(ip, allow_private=False)


def test_public_addresses_pass(production_urls: None) -> None:
    for address in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"):
        assert urlguard.address_problem(ipaddress.ip_address(address)) is None
    urlguard.check_url("https://93.184.216.34/hook")
    urlguard.check_url("https://no-such-host.invalid/hook")  # checked again when called


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://app.localhost/x",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://2130706433/hook",
        "http://127.1/hook",
        "http://0x7f.0.0.1/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_forbidden_urls_in_production(production_urls: None, url: str) -> None:
    with pytest.raises(urlguard.ForbiddenURL):
        urlguard.check_url(url)


def _room(db: Session, make_client: Callable[..., ExchangeClient]) -> tuple[Any, Any]:
    publisher = make_client("kemendagri.dukcapil", "civil-registry")
    subscriber = make_client("kemensos", "dtks")
    pubsub.create_event_type(
        session=db,
        publisher=publisher.subsystem,
        data=EventTypeIn.model_validate({"eventType": "address-changed", "schema": {}}),
    )
    pubsub.grant_subscription_right(
        session=db,
        publisher=publisher.subsystem,
        event_type="address-changed",
        subscriber=subscriber.subsystem,
        granted_by="test",
    )
    db.commit()
    return publisher.subsystem, subscriber.subsystem


def _subscribe(db: Session, publisher: Any, subscriber: Any, url: str) -> None:
    pubsub_subs.subscribe(
        session=db,
        publisher=publisher,
        event_type="address-changed",
        subscriber=subscriber,
        item=SubscriptionIn(delivery="PUSH", pushUrl=url),
    )


def test_push_url_to_metadata_is_refused_always(db: Session, make_client: Any) -> None:
    publisher, subscriber = _room(db, make_client)
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/x"):
        with pytest.raises(XRoadError) as refused:
            _subscribe(db, publisher, subscriber, url)
        assert refused.value.type == "Client.BadRequest" and "pushUrl" in refused.value.message


def test_push_url_to_loopback_is_refused_in_production(
    db: Session, make_client: Any, production_urls: None
) -> None:
    publisher, subscriber = _room(db, make_client)
    with pytest.raises(XRoadError):
        _subscribe(db, publisher, subscriber, "http://127.0.0.1:9/hook")
    with pytest.raises(XRoadError):
        _subscribe(db, publisher, subscriber, "http://localhost:9/hook")
    _subscribe(db, publisher, subscriber, "https://93.184.216.34/hook")
    with pytest.raises(XRoadError):
        pubsub_subs.update_subscription(
            session=db,
            publisher=publisher,
            event_type="address-changed",
            subscriber=subscriber,
            item=SubscriptionIn(delivery="PUSH", pushUrl="http://[::ffff:127.0.0.1]:6379/"),
        )


def test_push_worker_checks_the_address_again_before_sending(
    db: Session,
    session_factory: sessionmaker[Session],
    make_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    publisher, subscriber = _room(db, make_client)
    with subscriber_backend() as (url, recorder):
        _subscribe(db, publisher, subscriber, url)  # allowed when subscribing (test settings)
        pubsub_events.publish(
            session=db, publisher=publisher, event_type="address-changed", payload={}
        )
        db.commit()
        monkeypatch.setenv("SATU_EXCHANGE_ALLOW_PRIVATE_URLS", "false")
        get_settings.cache_clear()
        try:
            report = delivery.deliver_once(factory=session_factory)
        finally:
            monkeypatch.delenv("SATU_EXCHANGE_ALLOW_PRIVATE_URLS")
            get_settings.cache_clear()
        assert (report.claimed, report.delivered, report.retried) == (1, 0, 1)
        assert recorder.requests == []
        db.expire_all()
        row = db.scalars(select(Delivery)).one()
        assert row.status == "pending" and row.last_error.startswith("refused: pushUrl")
        # Allowed again: the next attempt goes out, to the checked address, Host unchanged.
        row.next_attempt_at = row.next_attempt_at.replace(year=2000)
        db.commit()
        report = delivery.deliver_once(factory=session_factory)
        assert report.delivered == 1
        [sent] = recorder.requests
        assert sent["headers"]["host"] == url.split("/")[2]


def test_push_pins_the_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name is resolved once, checked, and that address is what the request goes to."""
    answers = iter([[ipaddress.ip_address("93.184.216.34")], [ipaddress.ip_address("127.0.0.1")]])
    monkeypatch.setattr(urlguard, "resolve", lambda host, port: next(answers))
    url, extensions = delivery._pinned("https://hooks.example.org:8443/birth?x=1")
    assert url == "https://93.184.216.34:8443/birth?x=1"
    assert extensions == {"sni_hostname": "hooks.example.org"}


def test_base_url_checks(db: Session, make_client: Any, production_urls: None) -> None:
    provider = make_client("kemendagri.dukcapil", "population-register")
    for base_url in (
        "http://169.254.169.254/latest",
        "http://127.0.0.1:5432",
        "http://10.0.0.5/api",
    ):
        with pytest.raises(Problem) as refused:
            registry.register_service(
                session=db,
                actor=ADMIN,
                subsystem_id=provider.subsystem.id,
                service_code="population",
                base_url=base_url,
                openapi=POPULATION_OPENAPI,
            )
        assert "base_url" in refused.value.detail
    service = registry.register_service(
        session=db,
        actor=ADMIN,
        subsystem_id=provider.subsystem.id,
        service_code="population",
        base_url="https://93.184.216.34/api",
        openapi=POPULATION_OPENAPI,
    )
    with pytest.raises(Problem):
        registry.update_service(
            session=db, actor=ADMIN, service_id=service.id, base_url="http://[::1]:6379"
        )
