"""Demo wiring of the exchange for `satu demo`: two providers and one consumer, idempotently.

- Ditjen Dukcapil (member of Kemendagri), subsystem `population-register`, service `penduduk`:
  the population register provider (residents by NIK, family cards), read-only operations.
- Kemensos, subsystem `dtks`, service `dtks`: the DTKS social-assistance register.
- Dinas Sosial Kota Bandung, subsystem `bansos`: the consumer, allowed to call both, under
  legal mandates for the purpose `social-assistance-eligibility`.

The providers' public keys (their own, kept by the provider apps) are registered so the gateway
can check their signed answers. The consumer's OIDC client is made by `satu demo` (a
composition root), which links it with `link_consumer_client`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from satu.core.config import get_settings
from satu.exchange import keys, registry
from satu.exchange.schemas import Actor, ServiceInfo, SubsystemInfo
from satu.exchange.xroad import ClientId, ServiceId
from satu.providers import service as providers

ACTOR = Actor.system("demo")
PURPOSE = "social-assistance-eligibility"
CONSUMER = ("kota-32.73.dinsos", "bansos", "Aplikasi Bansos Dinas Sosial Kota Bandung")
# provider name -> (agency, subsystem, service code, exposed operations or None for all)
PROVIDERS: dict[str, tuple[str, str, str, list[str] | None]] = {
    providers.POPULATION: (
        "kemendagri.dukcapil",
        "population-register",
        "penduduk",
        [
            "POST /data/penduduk/1.0/read",
            "POST /data/penduduk/1.0/exists",
            "GET /data/penduduk/1.0",
            "POST /data/keluarga/1.0/read",
            "POST /data/keluarga/1.0/exists",
            "GET /data/keluarga/1.0",
        ],
    ),
    providers.DTKS: ("kemensos", "dtks", "dtks", None),
}
MANDATES = {
    providers.POPULATION: (
        "UU No. 24 Tahun 2013 tentang Perubahan atas UU No. 23 Tahun 2006 tentang Administrasi "
        "Kependudukan, Pasal 79 dan Pasal 58 ayat (4) (pemanfaatan data kependudukan untuk "
        "pelayanan publik dan program sosial); Permendagri No. 102 Tahun 2019"
    ),
    providers.DTKS: (
        "UU No. 13 Tahun 2011 tentang Penanganan Fakir Miskin, Pasal 8 (verifikasi dan validasi "
        "data terpadu oleh pemerintah daerah); Permensos No. 3 Tahun 2021"
    ),
}


def _subsystem(session: Session, agency_id: str, code: str, name: str = "") -> SubsystemInfo:
    member_class, member_code = registry.member_of(session=session, agency_id=agency_id)
    client = ClientId(get_settings().exchange_instance, member_class, member_code, code)
    found = registry.resolve_client(session=session, client=client)
    if found is not None:
        return found
    return registry.register_subsystem(
        session=session, actor=ACTOR, agency_id=agency_id, subsystem_code=code, name=name
    )


def _service(
    session: Session,
    provider: SubsystemInfo,
    name: str,
    code: str,
    operations: list[str] | None,
    prov: providers.ProviderSettings | None,
) -> ServiceInfo:
    info = providers.provider_info(name, prov=prov)
    wanted = ServiceId(
        ClientId(
            provider.instance, provider.member_class, provider.member_code, provider.subsystem_code
        ),
        code,
    )
    found = registry.resolve_service(session=session, service=wanted)
    if found is not None:
        if found.base_url != info.base_url:
            return registry.update_service(
                session=session, actor=ACTOR, service_id=found.id, base_url=info.base_url
            )
        return found
    return registry.register_service(
        session=session,
        actor=ACTOR,
        subsystem_id=provider.id,
        service_code=code,
        base_url=info.base_url,
        openapi=info.openapi,
        operations=operations,
        title=info.title,
        personal_data=True,
    )


def consumer(*, session: Session) -> SubsystemInfo:
    """The demo consumer subsystem (registered if missing)."""
    agency_id, code, name = CONSUMER
    return _subsystem(session, agency_id, code, name)


def seed_demo(
    *, session: Session, prov: providers.ProviderSettings | None = None
) -> dict[str, int]:
    """Register the demo providers, their services and keys, the consumer, rights, mandates.

    `prov`: where the providers listen and keep their keys (default: `SATU_PROVIDERS_*`).
    """
    added = {"services": 0, "keys": 0, "rights": 0, "mandates": 0}
    client = consumer(session=session)
    for name, (agency_id, code, service_code, operations) in PROVIDERS.items():
        provider = _subsystem(session, agency_id, code)
        before = registry.resolve_service(
            session=session,
            service=ServiceId(
                ClientId(
                    provider.instance,
                    provider.member_class,
                    provider.member_code,
                    provider.subsystem_code,
                ),
                service_code,
            ),
        )
        service = _service(session, provider, name, service_code, operations, prov)
        added["services"] += before is None
        info = providers.provider_info(name, prov=prov)
        if keys.public_key(session=session, key_id=info.key_id) is None:
            keys.register_public_key(
                session=session,
                member_class=provider.member_class,
                member_code=provider.member_code,
                subsystem_id=provider.id,
                public_key=info.public_key,
                key_id=info.key_id,
            )
            added["keys"] += 1
        rights = registry.list_rights(
            session=session, service_id=service.id, client_subsystem_id=client.id
        )
        if not rights:
            registry.grant_access(
                session=session, actor=ACTOR, service_id=service.id, client_subsystem_id=client.id
            )
            added["rights"] += 1
        member = (client.member_class, client.member_code)
        if (
            registry.find_mandate(
                session=session,
                service_id=service.id,
                client_member_class=member[0],
                client_member_code=member[1],
                purpose=PURPOSE,
            )
            is None
        ):
            registry.add_mandate(
                session=session,
                actor=ACTOR,
                service_id=service.id,
                client_agency_id=CONSUMER[0],
                purpose=PURPOSE,
                legal_basis=MANDATES[name],
            )
            added["mandates"] += 1
    return added


def link_consumer_client(*, session: Session, client_id: str) -> SubsystemInfo:
    """Let the demo consumer authenticate as this OIDC client (client_credentials)."""
    client = consumer(session=session)
    if client.client_id == client_id:
        return client
    return registry.set_subsystem_client(
        session=session, actor=ACTOR, subsystem_id=client.id, client_id=client_id
    )


def demo_services(*, session: Session) -> list[dict[str, Any]]:
    """The demo services as `{name, xroad_id, base_url}` (for the demo notes and tests)."""
    found = []
    for name, (agency_id, code, service_code, _ops) in PROVIDERS.items():
        member_class, member_code = registry.member_of(session=session, agency_id=agency_id)
        service = registry.resolve_service(
            session=session,
            service=ServiceId(
                ClientId(get_settings().exchange_instance, member_class, member_code, code),
                service_code,
            ),
        )
        if service is not None:
            found.append({"name": name, "xroad_id": service.xroad_id, "base_url": service.base_url})
    return found


def demo_notes() -> list[str]:
    """How to reach the demo providers (only through the exchange)."""
    prov = providers.get_provider_settings()
    return [
        "Penyedia data demo / demo providers (only reachable through the exchange, /r1/...):",
        f"  {prov.population_url()}  Dukcapil — register penduduk (GovStack Data API)",
        f"  {prov.dtks_url()}  Kemensos — DTKS (GovStack Data API)",
    ]
