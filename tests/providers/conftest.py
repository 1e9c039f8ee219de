"""Fixtures: the JWKS stand-in, demo residents (committed, removed afterwards) and both
providers as real uvicorn servers on loopback, behind their signature door."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import Engine

from satu.core.config import Settings
from satu.core.db import make_sessionmaker, transaction
from satu.identity import service as identity
from satu.identity.models import Resident
from satu.providers import service as providers
from satu.providers.config import ProviderSettings
from satu.providers.dtks.tables import dtks_engine
from satu.providers.signing import JwksKeyResolver
from tests.providers.support import GatewayKeys, Server

GATEWAY_KID = "satu-gateway-test"
KK = "3273010101129901"
# (NIK, name, sex, born, relation): one family card in Kota Bandung, serials 99xx.
FAMILY = (
    ("3273011708859901", "Agus Prasetyo", "M", date(1985, 8, 17), "head"),
    ("3273015708909901", "Dewi Lestari", "F", date(1990, 8, 17), "spouse"),
    ("3273010503129901", "Rizky Prasetyo", "M", date(2012, 3, 5), "child"),
)


@pytest.fixture(scope="session")
def gateway_keys() -> Iterator[GatewayKeys]:
    keys = GatewayKeys()
    keys.add(GATEWAY_KID)
    with Server(keys.app) as server:
        keys.url = f"{server.url}/api/v1/exchange/keys"  # type: ignore[attr-defined]
        yield keys


@pytest.fixture(scope="session")
def provider_settings(tmp_path_factory: pytest.TempPathFactory) -> ProviderSettings:
    return ProviderSettings(key_dir=tmp_path_factory.mktemp("provider-keys"))


@pytest.fixture(scope="session")
def family(engine: Engine, reference_data: None) -> Iterator[list[str]]:
    """Three residents on one family card, committed; removed after the session."""
    factory = make_sessionmaker(engine)
    niks = [nik for nik, *_ in FAMILY]
    with transaction(factory) as session:
        session.execute(delete(Resident).where(Resident.nik.in_(niks)))
    with transaction(factory) as session:
        for nik, name, sex, born, relation in FAMILY:
            identity.register_resident(
                session=session,
                data=identity.ResidentIn(
                    nik=nik,
                    full_name=name,
                    birth_place="Bandung",
                    birth_date=born,
                    sex=sex,
                    address_line="Jl. Dago No. 5",
                    rt="003",
                    rw="004",
                    village_code="32.73.01.1001",
                    kk_number=KK,
                    family_relation=relation,
                ),
                actor="test",
            )
    yield niks
    with transaction(factory) as session:
        session.execute(delete(Resident).where(Resident.nik.in_(niks)))


def _resolver(gateway_keys: GatewayKeys) -> JwksKeyResolver:
    return JwksKeyResolver(gateway_keys.url, refresh_floor=0.0)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def population(
    settings: Settings,
    engine: Engine,
    family: list[str],
    gateway_keys: GatewayKeys,
    provider_settings: ProviderSettings,
) -> Iterator[Server]:
    app = providers.build_provider(
        providers.POPULATION,
        core=settings,
        prov=provider_settings,
        factory=make_sessionmaker(engine),
        keys=_resolver(gateway_keys),
    )
    with Server(app) as server:
        server.key = providers.provider_key(  # type: ignore[attr-defined]
            providers.POPULATION, core=settings, prov=provider_settings
        )
        server.door = app  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="module")
def dtks_url(module_scratch_database_url: str) -> str:
    """The DTKS register's own database: a scratch one of the suite's kind (SQLite or PG)."""
    return module_scratch_database_url


@pytest.fixture(scope="module")
def dtks(
    settings: Settings,
    dtks_url: str,
    gateway_keys: GatewayKeys,
    provider_settings: ProviderSettings,
) -> Iterator[Server]:
    engine = dtks_engine(dtks_url)
    app = providers.build_provider(
        providers.DTKS,
        core=settings,
        prov=provider_settings,
        factory=make_sessionmaker(engine),
        keys=_resolver(gateway_keys),
    )
    with Server(app) as server:
        server.key = providers.provider_key(  # type: ignore[attr-defined]
            providers.DTKS, core=settings, prov=provider_settings
        )
        server.factory = make_sessionmaker(engine)  # type: ignore[attr-defined]
        yield server
    engine.dispose()


@pytest.fixture
def tmp_dtks(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dtks.sqlite3'}"
