"""The demo providers' public face: build them (behind their signature door), describe them
(base URL, key, OpenAPI) for the exchange's registry, seed the DTKS register, serve them.

The providers stand in for agencies' own systems: they share no code path with the exchange
(only Satu's published JWKS and the HTTP between them).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from satu.core.config import Settings, get_settings
from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.identity import service as identity
from satu.providers.config import ProviderSettings as ProviderSettings
from satu.providers.config import get_provider_settings as get_provider_settings
from satu.providers.door import SignedExchangeDoor
from satu.providers.dtks import registry as dtks_registry
from satu.providers.dtks.app import create_dtks_app
from satu.providers.dtks.seed import seed_households
from satu.providers.dtks.tables import dtks_engine
from satu.providers.population import create_population_app
from satu.providers.signing import (
    JwksKeyResolver,
    ProviderKey,
    RequestVerifier,
    ResponseSigner,
)

POPULATION = "population"
DTKS = "dtks"
NAMES = (POPULATION, DTKS)
# name -> (key id prefix, what it is)
_KEY_PREFIX = {POPULATION: "dukcapil-population", DTKS: "kemensos-dtks"}
TITLES = {
    POPULATION: "Dukcapil population register (residents by NIK, family cards)",
    DTKS: "Kemensos DTKS social-assistance register (households, deciles, programmes)",
}


@dataclass(frozen=True)
class ProviderInfo:
    """What the exchange's registry needs to know about a provider backend."""

    name: str
    title: str
    base_url: str
    key_id: str
    public_key: bytes
    public_jwk: dict[str, str]
    openapi: dict[str, Any]


def _settings(
    core: Settings | None, prov: ProviderSettings | None
) -> tuple[Settings, ProviderSettings]:
    return core or get_settings(), prov or get_provider_settings()


def provider_key(
    name: str, *, core: Settings | None = None, prov: ProviderSettings | None = None
) -> ProviderKey:
    """The provider's own Ed25519 key (created in its key folder on first use)."""
    if name not in NAMES:
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(NAMES)}")
    core, prov = _settings(core, prov)
    path = Path(prov.keys(core)) / f"{name}-ed25519.pem"
    return ProviderKey.load_or_create(path, prefix=_KEY_PREFIX[name])


def bare_app(name: str, *, factory: sessionmaker[Session] | None = None) -> Any:
    """The provider's Data API without its door (for its OpenAPI document, or tests)."""
    factory = factory or sessionmaker()
    if name == POPULATION:
        return create_population_app(factory=factory)
    if name == DTKS:
        return create_dtks_app(factory=factory)
    raise ValueError(f"unknown provider {name!r}")


def openapi_document(name: str) -> dict[str, Any]:
    """The provider's OpenAPI 3 document (what the exchange serves as the service's OpenAPI)."""
    return bare_app(name).openapi()


def provider_info(
    name: str, *, core: Settings | None = None, prov: ProviderSettings | None = None
) -> ProviderInfo:
    """Base URL, public key and OpenAPI of one provider, as configured."""
    core, prov = _settings(core, prov)
    key = provider_key(name, core=core, prov=prov)
    return ProviderInfo(
        name=name,
        title=TITLES[name],
        base_url=prov.population_url() if name == POPULATION else prov.dtks_url(),
        key_id=key.key_id,
        public_key=key.public_bytes,
        public_jwk=key.public_jwk(),
        openapi=openapi_document(name),
    )


def guarded(
    app: Any,
    *,
    key: ProviderKey,
    jwks_url: str | None = None,
    keys: Any = None,
    max_age_seconds: int = 300,
    max_body_bytes: int = 1_048_576,
) -> SignedExchangeDoor:
    """`app` behind the door: requests need the exchange's signature, answers get `key`'s."""
    resolver = keys if keys is not None else JwksKeyResolver(str(jwks_url))
    return SignedExchangeDoor(
        app,
        verifier=RequestVerifier(resolver, max_age_seconds=max_age_seconds),
        signer=ResponseSigner(key),
        max_body_bytes=max_body_bytes,
    )


def build_provider(
    name: str,
    *,
    core: Settings | None = None,
    prov: ProviderSettings | None = None,
    factory: sessionmaker[Session] | None = None,
    keys: Any = None,
) -> SignedExchangeDoor:
    """The provider ready to serve: its database, its door, its key.

    The population register reads Satu's residents (Satu's database, read-only); DTKS opens
    its own database. `keys` replaces the JWKS resolver (tests).
    """
    core, prov = _settings(core, prov)
    if factory is None:
        engine = make_engine(core) if name == POPULATION else dtks_engine(prov.dtks_database(core))
        factory = make_sessionmaker(engine)
    return guarded(
        bare_app(name, factory=factory),
        key=provider_key(name, core=core, prov=prov),
        jwks_url=prov.jwks(core),
        keys=keys,
        max_age_seconds=prov.signature_max_age_seconds,
        max_body_bytes=prov.max_body_bytes,
    )


def seed_dtks(
    *,
    session: Session,
    kk_numbers: list[str],
    core: Settings | None = None,
    prov: ProviderSettings | None = None,
    factory: sessionmaker[Session] | None = None,
) -> dict[str, int]:
    """Copy these family cards from the population register into DTKS as households.

    Reads Satu's residents through the identity service (`session`); writes the DTKS
    database in its own transaction (it is another agency's system). Idempotent.
    """
    core, prov = _settings(core, prov)
    families = []
    for kk in kk_numbers:
        members = identity.family_members(session=session, kk_number=kk)
        if not members:
            continue
        head = identity.find_resident(session=session, nik=members[0].nik)
        if head is None:
            continue
        families.append(
            {
                "kkNumber": kk,
                "regionCode": head.address.village.code,
                "address": " ".join(
                    p
                    for p in (
                        head.address.line,
                        f"RT {head.address.rt}" if head.address.rt else "",
                        f"RW {head.address.rw}" if head.address.rw else "",
                        head.address.village.name or "",
                    )
                    if p
                )[:300],
                "members": [
                    {"nik": m.nik, "fullName": m.full_name, "relation": m.family_relation}
                    for m in members
                    if m.status == "alive"
                ],
            }
        )
    if factory is None:
        factory = make_sessionmaker(dtks_engine(prov.dtks_database(core)))
    with transaction(factory) as dtks_session:
        result = seed_households(session=dtks_session, families=families)
        result.update(dtks_registry.counts(session=dtks_session))
    return result


class ProviderServer:
    """One provider served by uvicorn in a background thread."""

    def __init__(self, name: str, app: Any, host: str, port: int) -> None:
        self.name = name
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"provider-{name}", daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} provider did not start on {self.url}")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_providers(
    *,
    names: tuple[str, ...] = NAMES,
    core: Settings | None = None,
    prov: ProviderSettings | None = None,
) -> list[ProviderServer]:
    """Start the providers on their loopback ports (background threads); return them."""
    core, prov = _settings(core, prov)
    servers = []
    for name in names:
        port = prov.population_port if name == POPULATION else prov.dtks_port
        server = ProviderServer(name, build_provider(name, core=core, prov=prov), prov.host, port)
        server.start()
        servers.append(server)
    return servers
