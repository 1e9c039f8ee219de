"""Shared exchange fixtures: members' subsystems with OIDC clients, services, tokens.

`exchange_world` builds (in the test's rolled-back transaction) a provider subsystem of
Ditjen Dukcapil (member GOV/kemendagri) with a `population` service, and a consumer subsystem
of Kemensos holding an OIDC client_credentials client. `make_exchange_client` and
`issue_token` also work with a committed session and a real HTTP client (live servers).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.exchange import registry
from satu.exchange.schemas import Actor, ServiceInfo, SubsystemInfo

PROVIDER_AGENCY = "kemendagri.dukcapil"  # a unit: its member is GOV/kemendagri
CONSUMER_AGENCY = "kemensos"
OTHER_AGENCY = "kemenkes"
ADMIN = Actor.system("test")

POPULATION_OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Population register", "version": "1.0"},
    "paths": {
        "/persons/{nik}": {
            "get": {"operationId": "getPerson", "responses": {"200": {"description": "ok"}}}
        },
        "/persons/{nik}/family": {
            "get": {"operationId": "getFamily", "responses": {"200": {"description": "ok"}}}
        },
        "/persons/search": {
            "post": {"operationId": "searchPersons", "responses": {"200": {"description": "ok"}}}
        },
        "/health": {"get": {"responses": {"200": {"description": "ok"}}}},
    },
}


@dataclass
class ExchangeClient:
    """A subsystem with the OIDC client it authenticates as."""

    subsystem: SubsystemInfo
    client_id: str
    client_secret: str

    @property
    def xroad_id(self) -> str:
        return self.subsystem.xroad_id

    def basic(self) -> tuple[str, str]:
        return (self.client_id, self.client_secret)


def make_oidc_client(session: Session, settings: Settings, agency_id: str) -> tuple[str, str]:
    """A client_credentials OIDC client (client_secret_basic) of the agency: (id, secret)."""
    from satu.identity.oidc.clients import create_client
    from satu.identity.oidc.schemas import ClientSpec

    created = create_client(
        session=session,
        settings=settings,
        spec=ClientSpec(
            name=f"Exchange client of {agency_id}",
            agency_id=agency_id,
            grant_types=["client_credentials"],
            redirect_uris=[],
            scopes=[],
            auth_method="client_secret_basic",
        ),
    )
    assert created.client_secret is not None
    return created.client.client_id, created.client_secret


def make_exchange_client(
    session: Session,
    settings: Settings,
    agency_id: str,
    subsystem_code: str,
    *,
    actor: Actor = ADMIN,
) -> ExchangeClient:
    """Register a subsystem of the agency linked to a fresh client_credentials OIDC client."""
    client_id, secret = make_oidc_client(session, settings, agency_id)
    info = registry.register_subsystem(
        session=session,
        actor=actor,
        agency_id=agency_id,
        subsystem_code=subsystem_code,
        client_id=client_id,
    )
    return ExchangeClient(info, client_id, secret)


def issue_token(http: Any, exchange_client: ExchangeClient) -> str:
    """A client_credentials access token from the provider (TestClient or httpx.Client)."""
    raw = f"{exchange_client.client_id}:{exchange_client.client_secret}".encode()
    response = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def consumer_headers(http: Any, exchange_client: ExchangeClient) -> dict[str, str]:
    """Authorization and X-Road-Client headers for a call as this consumer."""
    return {
        "Authorization": f"Bearer {issue_token(http, exchange_client)}",
        "X-Road-Client": exchange_client.xroad_id,
    }


@dataclass
class ExchangeWorld:
    """A provider with a service and a consumer with the OIDC client it calls with."""

    provider: ExchangeClient
    consumer: ExchangeClient
    service: ServiceInfo


@pytest.fixture(autouse=True)
def _fresh_oidc_key_caches() -> Iterator[None]:
    """The provider's signing keys live in each test's rolled-back transaction: forget them."""
    from satu.identity.oidc import keys

    keys.forget_active_key()
    keys._public_cache.clear()
    yield
    keys.forget_active_key()
    keys._public_cache.clear()


@pytest.fixture
def exchange_admin() -> Actor:
    """A trusted operator (like the CLI)."""
    return ADMIN


@pytest.fixture
def make_client(db: Session, settings: Settings) -> Callable[..., ExchangeClient]:
    """Register a subsystem with its own client_credentials client: make_client(agency, code)."""

    def make(agency_id: str = CONSUMER_AGENCY, subsystem_code: str = "app") -> ExchangeClient:
        made = make_exchange_client(db, settings, agency_id, subsystem_code)
        db.commit()
        return made

    return make


@pytest.fixture
def exchange_world(
    db: Session, make_client: Callable[..., ExchangeClient], settings: Settings
) -> ExchangeWorld:
    """Dukcapil's `population` service (all operations), Kemensos' `dtks` subsystem as consumer."""
    provider = make_client(PROVIDER_AGENCY, "population-register")
    consumer = make_client(CONSUMER_AGENCY, "dtks")
    service = registry.register_service(
        session=db,
        actor=ADMIN,
        subsystem_id=provider.subsystem.id,
        service_code="population",
        base_url="http://127.0.0.1:9/population",
        openapi=POPULATION_OPENAPI,
    )
    db.commit()
    return ExchangeWorld(provider=provider, consumer=consumer, service=service)


@pytest.fixture
def sign_in_as(db: Session, client: Any) -> Callable[..., str]:
    """Sign `client` in as a new account holding `role` (at `agency_id`); returns the account id.

    Like an API script, the client then fetches a CSRF token and sends it on every request.
    """
    from satu.identity import service as identity
    from tests.identity.conftest import PASSWORD, api_csrf, resident_data, sign_in

    def make(role: str, agency_id: str | None = None) -> str:
        resident = identity.register_resident(session=db, data=resident_data())
        account = identity.create_account(session=db, nik=resident.nik, password=PASSWORD)
        identity.grant_role(session=db, account_id=account.id, role=role, agency_id=agency_id)
        db.commit()
        client.cookies.clear()
        client.headers.pop("X-CSRF-Token", None)
        response = sign_in(client, resident.nik)
        assert response.status_code == 303, response.text
        api_csrf(client)
        return str(account.id)

    return make
