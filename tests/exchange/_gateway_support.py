"""Gateway test world: a real provider backend (uvicorn on loopback), registered subsystems,
services, rights, a mandate, keys, a resident who consented, and helpers to call the gateway.

Everything is committed (the gateway runs as a live server with its own transactions), with
codes unique to the run so it never collides with other tests.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.engine import Engine

from satu.core.config import Settings
from satu.core.db import make_sessionmaker, transaction
from satu.exchange import signatures as sig
from satu.exchange.models import (
    AccessRight,
    ExchangeService,
    LogEntry,
    Mandate,
    MemberKey,
    Subsystem,
)
from satu.identity import service as identity
from satu.identity.oidc.clients import create_client
from satu.identity.oidc.models import Consent
from satu.identity.oidc.schemas import ClientSpec
from satu.identity.schemas import ResidentIn
from satu.satudata import service as satudata

CONSUMER_AGENCY = "kemenpppa"
PROVIDER_AGENCY = "kemendukbangga"
OTHER_AGENCY = "kemenpora"
PURPOSE = "bansos-eligibility"
MANDATE_PURPOSE = "bansos-verification"
LIMITED_PER_MINUTE = 3


def raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def provider_app(provider_key: tuple[str, Ed25519PrivateKey]) -> FastAPI:
    """A provider backend: persons lookup, echo, slow, malformed and self-signed answers."""
    app = FastAPI()
    app.state.seen = []

    @app.middleware("http")
    async def remember(request: Request, call_next: Any) -> Response:
        body = await request.body()
        app.state.seen.append(
            {
                "method": request.method,
                "url": str(request.url),
                "raw_path": request.scope.get("raw_path", b"").decode(),
                "query": request.scope.get("query_string", b"").decode(),
                "headers": list(request.headers.raw),
                "body": body,
            }
        )
        return await call_next(request)

    @app.get("/persons/{nik}")
    async def person(nik: str) -> dict:
        return {"nik": nik, "name": "Siti Aminah"}

    @app.api_route("/echo", methods=["GET", "POST", "PUT"])
    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/octet-stream")

    @app.get("/slow")
    async def slow() -> dict:
        await asyncio.sleep(2)
        return {"late": True}

    @app.get("/bad-json")
    async def bad_json() -> Response:
        return Response(b"{not json", media_type="application/json")

    @app.get("/big")
    async def big() -> Response:
        return Response(b"x" * 5000, media_type="text/plain")

    @app.get("/fail")
    async def fail() -> JSONResponse:
        return JSONResponse({"error": "boom"}, status_code=500)

    def signed_answer(echo: dict[str, str]) -> Response:
        body = b'{"signed":true}'
        headers = httpx.Headers({"content-type": "application/json", **echo})
        key_id, key = provider_key
        sig.sign_response(headers, status=200, key_id=key_id, private_key=key, body=body)
        return Response(body, headers=dict(headers))

    def echoed(request: Request) -> dict[str, str]:
        names = ("x-road-id", "x-road-request-id")
        return {name: request.headers[name] for name in names if name in request.headers}

    @app.get("/signed")
    async def signed(request: Request) -> Response:
        return signed_answer(echoed(request))

    @app.get("/signed-no-echo")
    async def signed_no_echo() -> Response:
        return signed_answer({})

    @app.get("/signed-other-call")
    async def signed_other_call(request: Request) -> Response:
        return signed_answer({**echoed(request), "x-road-request-id": str(uuid.uuid4())})

    @app.get("/repeated-headers")
    async def repeated_headers() -> Response:
        response = JSONResponse({"ok": True})
        response.raw_headers.extend([(b"link", b"</a>; rel=a"), (b"link", b"</b>; rel=b")])
        return response

    @app.get("/unsignable-header")
    async def unsignable_header() -> Response:
        response = Response(b"{}", media_type="application/json")
        # A signed field (content-type) with a byte RFC 9421 cannot cover (obs-text).
        response.raw_headers = [
            (name, b"application/json; note=caf\xe9" if name == b"content-type" else value)
            for name, value in response.raw_headers
        ]
        return response

    @app.get("/echo-other-transaction")
    async def echo_other_transaction() -> Response:
        return JSONResponse({"ok": True}, headers={"x-road-id": "another-transaction"})

    @app.get("/badly-signed")
    async def badly_signed() -> Response:
        headers = httpx.Headers({"content-type": "application/json"})
        key_id, key = provider_key
        sig.sign_response(headers, status=200, key_id=key_id, private_key=key, body=b"{}")
        return Response(b'{"altered":true}', headers=dict(headers))

    @app.get("/unsigned")
    async def unsigned() -> dict:
        return {"signed": False}

    @app.get("/set-cookie")
    async def set_cookie() -> Response:
        response = JSONResponse({"ok": True})
        response.set_cookie("backend-session", "for-the-first-consumer-only")
        return response

    return app


REBIND_HOST = "backend.satu-test.invalid"  # never in real DNS (RFC 2606)


@dataclass
class World:
    """What the tests call with."""

    gateway: str
    instance: str
    consumer: str  # X-Road client id
    consumer_signed: str
    consumer_other: str  # a subsystem without rights
    consumer_limited: str  # a subsystem allowed LIMITED_PER_MINUTE calls a minute
    consumer_key: tuple[str, Ed25519PrivateKey]
    tokens: dict[str, str]
    services: dict[str, str]  # name -> X-Road service id
    nik_consented: str
    nik_no_consent: str
    provider_seen: list = field(default_factory=list)
    engine: Engine | None = None

    def url(self, service: str, path: str = "") -> str:
        return f"{self.gateway}/r1/{self.services[service]}{path}"

    def headers(self, who: str = "consumer", **extra: str) -> dict[str, str]:
        client = getattr(self, who)
        values = {
            "Authorization": f"Bearer {self.tokens[who]}",
            "X-Road-Client": client,
            "X-Road-Id": str(uuid.uuid4()),
            "X-Road-Purpose": PURPOSE,
        }
        values.update(extra)
        return {k: v for k, v in values.items() if v != ""}

    def log_of(self, transaction_id: str) -> list[LogEntry]:
        assert self.engine is not None
        with transaction(make_sessionmaker(self.engine)) as session:
            return list(
                session.scalars(
                    select(LogEntry)
                    .where(LogEntry.transaction_id == transaction_id)
                    .order_by(LogEntry.idx)
                )
            )


def _nik(session: Any) -> str:
    while True:
        nik = "327301" + "010190" + f"{secrets.randbelow(9000) + 1000:04d}"
        if identity.find_resident(session=session, nik=nik) is None:
            return nik


def build_world(
    *,
    engine: Engine,
    settings: Settings,
    gateway_url: str,
    provider_url: str,
    provider_key: tuple[str, Ed25519PrivateKey],
) -> World:
    """Register everything the gateway tests need (committed)."""
    run = uuid.uuid4().hex[:8]
    factory = make_sessionmaker(engine)
    instance = settings.exchange_instance
    consumer_key = (f"consumer-{run}", Ed25519PrivateKey.generate())
    with transaction(factory) as session:
        cons = satudata.get_agency(session=session, agency_id=CONSUMER_AGENCY)
        prov = satudata.get_agency(session=session, agency_id=PROVIDER_AGENCY)
        other = satudata.get_agency(session=session, agency_id=OTHER_AGENCY)
        secrets_by: dict[str, tuple[str, str]] = {}

        def oidc_client(agency_id: str, name: str) -> str:
            created = create_client(
                session=session,
                settings=settings,
                spec=ClientSpec(
                    name=name,
                    agency_id=agency_id,
                    grant_types=["client_credentials"],
                    scopes=[],
                    auth_method="client_secret_basic",
                ),
            )
            secrets_by[name] = (created.client.client_id, created.client_secret or "")
            return created.client.client_id

        def subsystem(agency: Any, code: str, client_id: str | None, **kw: Any) -> Subsystem:
            row = Subsystem(
                member_class=agency.member_class,
                member_code=agency.member_code,
                subsystem_code=code,
                agency_id=agency.id,
                name=code,
                client_id=client_id,
                **kw,
            )
            session.add(row)
            session.flush()
            return row

        c1 = subsystem(cons, f"C{run}", oidc_client(cons.id, "consumer"))
        c2 = subsystem(
            cons, f"CS{run}", oidc_client(cons.id, "consumer_signed"), require_signature=True
        )
        c3 = subsystem(other, f"CO{run}", oidc_client(other.id, "consumer_other"))
        c4 = subsystem(
            cons,
            f"CL{run}",
            oidc_client(cons.id, "consumer_limited"),
            rate_limit_per_minute=LIMITED_PER_MINUTE,
        )
        p1 = subsystem(prov, f"P{run}", None)
        p2 = subsystem(prov, f"PS{run}", None, require_signature=True)
        session.add(
            MemberKey(
                key_id=consumer_key[0],
                member_class=cons.member_class,
                member_code=cons.member_code,
                subsystem_id=c2.id,
                public_key=raw_public(consumer_key[1]),
                hosted=False,
            )
        )
        session.add(
            MemberKey(
                key_id=provider_key[0],
                member_class=prov.member_class,
                member_code=prov.member_code,
                subsystem_id=p2.id,
                public_key=raw_public(provider_key[1]),
                hosted=False,
            )
        )
        specs = {
            "persons": (p1, dict(operations=[{"method": "GET", "path": "/persons/{nik}"}])),
            "open": (p1, dict(personal_data=False)),
            "small": (p1, dict(personal_data=False, max_body_bytes=1024)),
            "slow": (p1, dict(personal_data=False, timeout_ms=400)),
            "down": (p1, dict(personal_data=False, base_url="http://127.0.0.1:9")),
            "signed": (p2, dict(personal_data=False)),
            # The backend under a host name whose DNS answer the tests choose (urlguard.resolve).
            "rebind": (
                p1,
                dict(personal_data=False, base_url=provider_url.replace("127.0.0.1", REBIND_HOST)),
            ),
        }
        services: dict[str, str] = {}
        for name, (provider, extra) in specs.items():
            extra = {"base_url": provider_url, **extra}
            row = ExchangeService(subsystem_id=provider.id, service_code=name, **extra)
            session.add(row)
            session.flush()
            for client in (c1, c2, c4):
                session.add(AccessRight(service_id=row.id, client_subsystem_id=client.id))
            if name == "persons":
                session.add(
                    Mandate(
                        service_id=row.id,
                        client_member_class=cons.member_class,
                        client_member_code=cons.member_code,
                        purpose=MANDATE_PURPOSE,
                        legal_basis="UU 13/2011 tentang Penanganan Fakir Miskin, Pasal 11",
                    )
                )
            services[name] = (
                f"{instance}/{provider.member_class}/{provider.member_code}/{provider.subsystem_code}/{name}"
            )
        # A resident who consented to the consumer agency's client, and one who did not.
        niks = []
        for _ in range(2):
            nik = _nik(session)
            identity.register_resident(
                session=session,
                data=ResidentIn(
                    nik=nik,
                    full_name="Siti Aminah",
                    birth_place="Bandung",
                    birth_date=date(1990, 1, 1),
                    sex="M",
                    village_code="32.73.01.1001",
                    kk_number="3273010101900001",
                ),
            )
            niks.append(nik)
        account = identity.create_account(
            session=session, nik=niks[0], password="kata-sandi-uji-yang-panjang-1"
        )
        session.add(Consent(account_id=account.id, client_id=c1.client_id, scopes=["openid"]))
        ids = {
            "consumer": client_id_text(instance, c1),
            "consumer_signed": client_id_text(instance, c2),
            "consumer_other": client_id_text(instance, c3),
            "consumer_limited": client_id_text(instance, c4),
        }
    tokens = {}
    for name, (client_id, secret) in secrets_by.items():
        response = httpx.post(
            f"{gateway_url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        )
        assert response.status_code == 200, response.text
        tokens[name] = response.json()["access_token"]
    return World(
        gateway=gateway_url,
        instance=instance,
        consumer=ids["consumer"],
        consumer_signed=ids["consumer_signed"],
        consumer_other=ids["consumer_other"],
        consumer_limited=ids["consumer_limited"],
        consumer_key=consumer_key,
        tokens=tokens,
        services=services,
        nik_consented=niks[0],
        nik_no_consent=niks[1],
        engine=engine,
    )


def client_id_text(instance: str, row: Subsystem) -> str:
    return f"{instance}/{row.member_class}/{row.member_code}/{row.subsystem_code}"


@contextmanager
def running_world(
    *, live_server: Any, engine: Engine, settings: Settings, name: str
) -> Iterator[World]:
    """A world whose provider backend (`provider_app`, with a fresh key) runs on loopback
    while the block runs; `name` keeps its key id apart from other modules' worlds."""
    from tests.conftest import LiveServer

    provider_key = (
        f"{name}-{id(engine)}-{datetime.now(UTC).timestamp()}",
        Ed25519PrivateKey.generate(),
    )
    app = provider_app(provider_key)
    backend = LiveServer(app)
    backend.start()
    try:
        built = build_world(
            engine=engine,
            settings=settings,
            gateway_url=live_server.url,
            provider_url=backend.url,
            provider_key=provider_key,
        )
        built.provider_seen = app.state.seen
        yield built
    finally:
        backend.stop()
