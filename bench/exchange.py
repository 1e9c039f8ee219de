"""The exchange gateway's cost: a provider, the gateway and a load client on loopback.

Prints, in one run: calls/s straight to the provider, calls/s through the gateway (consumer
token check, access right, purpose, NIK + legal mandate, signing the forwarded request and the
answer, transparency log append + commit per call), their ratio, and the latency the gateway
adds at p50/p99 (measured one call at a time, so queueing does not blur it). Also calls/s of
Satu's own `GET /healthz` on the same server: the ceiling of the web stack (uvicorn, FastAPI,
Satu's middleware) that its ordinary routes run under (the gateway has its own entry, past
FastAPI's routing). Each throughput phase also prints the CPU time the server under test
(provider or Satu, all worker processes) and the load client spent per call: figures that
other load on the machine does not change much, unlike calls/s. The throughput phases take
turns in short slices (`--rounds`), so that a change in the machine's speed during the run
falls on all of them alike.
Target: at least half of direct throughput, under 5 ms added at p50.

Usage:
    .venv/bin/python bench/exchange.py                       # temp SQLite database
    .venv/bin/python bench/exchange.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python bench/exchange.py --seconds 20 --concurrency 64 --workers 2

The database is migrated and loaded (regions, agencies) first; with PostgreSQL it is a
scratch database that is emptied. The provider is a tiny ASGI app in its own uvicorn process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench._common import (
    Result,
    cpu_seconds,
    free_port,
    named_cpu_seconds,
    run_load,
    satu,
    start_process,
    start_satu_server,
    stop_process,
)

CONSUMER_AGENCY = "kemensos"
PROVIDER_AGENCY = "kemendagri"
PURPOSE = "bansos-verification"
NIK = "3273010101900001"


# --- the provider backend --------------------------------------------------------------------


async def provider_app(scope, receive, send):  # type: ignore[no-untyped-def]
    """A minimal population register: GET /persons/{nik} -> JSON; /healthz."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path.startswith("/persons/"):
        body = json.dumps(
            {"nik": path.rsplit("/", 1)[1], "name": "Siti Aminah", "village": "32.73.01.1001"}
        ).encode()
        status = 200
    elif path == "/healthz":
        body, status = b'{"status":"ok"}', 200
    else:
        body, status = b'{"error":"not found"}', 404
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- setup (in this process, on the server's database) ---------------------------------------


def setup(env: dict[str, str], provider_url: str) -> tuple[str, str, str, str]:
    """Register the subsystems, service, right and mandate; (client_id, secret, client, service)."""
    os.environ.update(env)
    from satu.core.config import get_settings
    from satu.core.db import make_engine, make_sessionmaker, transaction
    from satu.exchange.models import AccessRight, ExchangeService, Mandate, Subsystem
    from satu.identity.oidc.clients import create_client
    from satu.identity.oidc.schemas import ClientSpec
    from satu.satudata import service as satudata

    get_settings.cache_clear()
    settings = get_settings()
    engine = make_engine(settings)
    run = uuid.uuid4().hex[:6]
    with transaction(make_sessionmaker(engine)) as session:
        cons = satudata.get_agency(session=session, agency_id=CONSUMER_AGENCY)
        prov = satudata.get_agency(session=session, agency_id=PROVIDER_AGENCY)
        created = create_client(
            session=session,
            settings=settings,
            spec=ClientSpec(
                name="bench consumer",
                agency_id=cons.id,
                grant_types=["client_credentials"],
                scopes=[],
                auth_method="client_secret_basic",
            ),
        )
        consumer = Subsystem(
            member_class=cons.member_class,
            member_code=cons.member_code,
            subsystem_code=f"bench{run}",
            agency_id=cons.id,
            client_id=created.client.client_id,
            rate_limit_per_minute=10_000_000,
        )
        provider = Subsystem(
            member_class=prov.member_class,
            member_code=prov.member_code,
            subsystem_code=f"pop{run}",
            agency_id=prov.id,
        )
        session.add_all([consumer, provider])
        session.flush()
        service = ExchangeService(
            subsystem_id=provider.id,
            service_code="persons",
            base_url=provider_url,
            operations=[{"method": "GET", "path": "/persons/{nik}"}],
            personal_data=True,
        )
        session.add(service)
        session.flush()
        session.add(AccessRight(service_id=service.id, client_subsystem_id=consumer.id))
        session.add(
            Mandate(
                service_id=service.id,
                client_member_class=cons.member_class,
                client_member_code=cons.member_code,
                purpose=PURPOSE,
                legal_basis="bench",
            )
        )
        instance = settings.exchange_instance
        client_text = f"{instance}/{cons.member_class}/{cons.member_code}/bench{run}"
        service_text = f"{instance}/{prov.member_class}/{prov.member_code}/pop{run}/persons"
    engine.dispose()
    return created.client.client_id, created.client_secret or "", client_text, service_text


def commit_floor(env: dict[str, str], rounds: int = 150) -> float:
    """p50 ms of one small INSERT + COMMIT on the bench database, calls spaced as one-at-a-time
    calls are: the least a call pays for "logged before answered" (a durable commit)."""
    os.environ.update(env)
    from sqlalchemy import text

    from satu.core.config import get_settings
    from satu.core.db import make_engine

    get_settings.cache_clear()
    engine = make_engine(get_settings())
    times = []
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE bench_commit_probe (x INTEGER)"))
        for _ in range(rounds):
            began = time.perf_counter()
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO bench_commit_probe VALUES (1)"))
            times.append(time.perf_counter() - began)
            time.sleep(0.002)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE bench_commit_probe"))
    finally:
        engine.dispose()
    return sorted(times)[len(times) // 2] * 1000


# --- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="empty: a temporary SQLite file")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=5, help="turns the throughput phases take, in slices"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes of the provider and of Satu"
    )
    parser.add_argument(
        "--gateway-workers", type=int, default=0, help="Satu's workers (default: --workers)"
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="satu-bench-exchange-"))
    env = {
        **os.environ,
        "SATU_VAR_DIR": str(folder),
        "SATU_DATABASE_URL": args.database_url,
        "SATU_SECRET_KEY": secrets.token_urlsafe(32),
        "SATU_LOG_LEVEL": "WARNING",
        "SATU_ENV": "development",
    }
    if args.database_url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        admin = create_engine(args.database_url)
        with admin.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        admin.dispose()
    print("preparing the database (migrations, regions, agencies) ...", flush=True)
    satu(env, "db", "upgrade")
    satu(env, "data", "load-regions")
    satu(env, "data", "load-agencies")

    provider_port, gateway_port = free_port(), free_port()
    provider_url = f"http://127.0.0.1:{provider_port}"
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    env["SATU_PUBLIC_URL"] = gateway_url
    provider = start_process(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.exchange:provider_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(provider_port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--workers",
            str(args.workers),
        ],
        env,
        f"{provider_url}/healthz",
    )
    gateway = None
    try:
        client_id, secret, client_text, service_text = setup(env, provider_url)
        gateway = start_satu_server(env, gateway_port, workers=args.gateway_workers or args.workers)
        token = httpx.post(
            f"{gateway_url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Road-Client": client_text,
            "X-Road-Purpose": PURPOSE,
            "X-Road-UserId": f"ID{NIK}",
        }
        direct = f"{provider_url}/persons/{NIK}"
        through = f"{gateway_url}/r1/{service_text}/persons/{NIK}"
        check = httpx.get(through, headers=headers)
        if check.status_code != 200:
            raise SystemExit(f"gateway call failed: {check.status_code} {check.text}")

        async def call_direct(client: httpx.AsyncClient) -> bool:
            return (await client.get(direct)).status_code == 200

        async def call_gateway(client: httpx.AsyncClient) -> bool:
            return (await client.get(through, headers=headers)).status_code == 200

        async def call_floor(client: httpx.AsyncClient) -> bool:
            return (await client.get(f"{gateway_url}/healthz")).status_code == 200

        phases = {
            "direct": (call_direct, provider),
            "healthz": (call_floor, gateway),
            "gateway": (call_gateway, gateway),
        }
        totals = {name: Result(name) for name in phases}
        cpu = dict.fromkeys(phases, 0.0)
        client_cpu = dict.fromkeys(phases, 0.0)
        database_cpu = dict.fromkeys(phases, 0.0)
        # The database server's CPU too, when it is PostgreSQL on this machine.
        host = args.database_url.split("@")[-1].split("/")[0].split(":")[0]
        measure_database = args.database_url.startswith("postgresql") and host in (
            "127.0.0.1",
            "localhost",
        )

        async def timed_slice(name: str, seconds: float) -> None:
            """One slice of a throughput phase, adding its calls and the CPU seconds they
            cost the server under test and the load client."""
            call, server = phases[name]
            marks: list[float] = []
            database = named_cpu_seconds("postgres") if measure_database else 0.0
            part = await run_load(
                name,
                call,
                concurrency=args.concurrency,
                seconds=seconds,
                warmup=0.3,
                on_start=lambda: marks.extend((cpu_seconds(server), time.process_time())),
            )
            cpu[name] += cpu_seconds(server) - marks[0]
            client_cpu[name] += time.process_time() - marks[1]
            if measure_database:
                database_cpu[name] += named_cpu_seconds("postgres") - database
            total = totals[name]
            total.requests += part.requests
            total.errors += part.errors
            total.seconds += part.seconds
            total.latencies += part.latencies

        async def measure() -> tuple[Result, ...]:
            lat_direct = await run_load(
                "direct, 1 at a time", call_direct, concurrency=1, seconds=args.seconds / 2
            )
            lat_gateway = await run_load(
                "gateway, 1 at a time", call_gateway, concurrency=1, seconds=args.seconds / 2
            )
            # Direct, healthz and gateway take turns in short slices, so that a change in
            # the machine's speed during the run (other tenants, CPU clock) falls on all
            # three alike instead of on whichever phase ran then.
            for _ in range(args.rounds):
                for name in phases:
                    await timed_slice(name, args.seconds / args.rounds)
            for name in phases:
                calls = max(1, totals[name].requests)
                cpu[name] /= calls
                client_cpu[name] /= calls
                database_cpu[name] /= calls
            return lat_direct, lat_gateway, totals["direct"], totals["healthz"], totals["gateway"]

        lat_direct, lat_gateway, rps_direct, rps_floor, rps_gateway = asyncio.run(measure())
        floor_ms = commit_floor(env)
        backend = "PostgreSQL" if args.database_url.startswith("postgresql") else "SQLite"
        print(
            f"\nexchange gateway bench ({backend}, {args.workers} provider worker(s), "
            f"{args.gateway_workers or args.workers} Satu worker(s), "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f})"
        )
        print(
            f"  concurrency {args.concurrency}, {args.seconds:.0f} s per phase "
            f"(in {args.rounds} turns of {args.seconds / args.rounds:.1f} s)"
        )
        for r in (rps_direct, rps_floor, rps_gateway):
            print(
                f"  {r.name:8} {r.rps:8.0f} calls/s  ({r.requests} calls, {r.errors} errors)"
                f"  p50 {r.percentile(0.5):6.1f} ms  p99 {r.percentile(0.99):6.1f} ms"
                f"  server CPU {cpu[r.name] * 1000:.2f} ms/call"
                f"  (load client {client_cpu[r.name] * 1000:.2f}"
                + (f", PostgreSQL {database_cpu[r.name] * 1000:.2f}" if measure_database else "")
                + ")"
            )
        ratio = rps_gateway.rps / rps_direct.rps if rps_direct.rps else 0.0
        print(f"  ratio    {ratio:8.2f}  (target >= 0.5)")
        floor = rps_gateway.rps / rps_floor.rps if rps_floor.rps else 0.0
        print(f"  gateway / Satu's own /healthz {floor:.2f} (the web stack's ceiling)")
        added50 = lat_gateway.percentile(0.5) - lat_direct.percentile(0.5)
        added99 = lat_gateway.percentile(0.99) - lat_direct.percentile(0.99)
        print(
            f"  one at a time: direct p50 {lat_direct.percentile(0.5):.2f} ms, "
            f"gateway p50 {lat_gateway.percentile(0.5):.2f} ms"
        )
        print(f"  added latency p50 {added50:.2f} ms (target < 5), p99 {added99:.2f} ms")
        print(
            f"  of which at least one durable database commit: p50 {floor_ms:.2f} ms "
            "(a small INSERT + COMMIT, measured alone)"
        )
        print(
            f"  errors: direct {lat_direct.errors + rps_direct.errors}, "
            f"healthz {rps_floor.errors}, gateway {lat_gateway.errors + rps_gateway.errors}"
        )
    finally:
        if gateway is not None:
            stop_process(gateway)
        stop_process(provider)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
