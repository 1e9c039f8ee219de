"""OpenID provider throughput over real HTTP, per server CPU core, beside /healthz.

Measures, against one server:
  - GET /healthz (the same machine's plain baseline),
  - client_credentials grants (client_secret_basic, and private_key_jwt with a fresh ES256
    assertion per request),
  - authorization-code exchanges (private_key_jwt, PKCE S256, ID token + access token),
  - password sign-ins (POST /masuk: argon2id check + new server-side session).
Keycloak's published sizing is about 15 password sign-ins/s and 120 client-credentials
grants/s per vCPU; the report prints both figures per server core beside ours.

Usage:
    .venv/bin/python bench/oidc.py                      # temp SQLite DB, own server on 1 core
    .venv/bin/python bench/oidc.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python bench/oidc.py --url http://127.0.0.1:8000 --server-cores 2
        # a running server: run this with the same SATU_* environment (database, secret key)
        # so the test residents and clients it creates are the server's.

Per core: an own server is pinned to `--server-cores` CPUs (taskset) while the load
generator runs on the others, so req/s divided by those cores is per core; the server
process's CPU time is also read from /proc, giving requests per server CPU-second.
Only loopback targets are allowed; every phase is bounded by a request count and a time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
KEYCLOAK_PER_VCPU = {"password sign-in": 15.0, "client_credentials": 120.0}
PASSWORD = "bench-kata-sandi-panjang"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Result:
    """Figures of one measured phase."""

    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float | None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    def per_cpu_second(self) -> float | None:
        if not self.cpu_seconds:
            return None
        return (self.requests - self.errors) / self.cpu_seconds


# --- server process ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree_cpu(pid: int) -> float:
    """User + system CPU seconds of `pid` and its children (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid, utime, stime = int(fields[1]), int(fields[11]), int(fields[12])
        if int(entry.name) == pid or ppid == pid:
            total += (utime + stime) / tick
    return total


def _satu(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "satu", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"satu {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def start_server(env: dict[str, str], cores: int) -> tuple[str, subprocess.Popen[bytes], list[int]]:
    """Migrate, load reference data and start `satu serve` pinned to `cores` CPUs."""
    _satu(env, "db", "upgrade")
    _satu(env, "data", "load-regions")
    _satu(env, "data", "load-agencies")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env["SATU_PUBLIC_URL"] = url
    available = sorted(os.sched_getaffinity(0))
    server_cpus = available[:cores]
    command = [
        sys.executable,
        "-m",
        "satu",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(cores),
    ]
    if shutil.which("taskset") and len(available) > cores:
        command = ["taskset", "-c", ",".join(map(str, server_cpus)), *command]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early with code {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        raise SystemExit("server did not become ready")
    generator_cpus = [c for c in available if c not in server_cpus] or available
    os.sched_setaffinity(0, generator_cpus)
    return url, process, server_cpus


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


# --- test data (same database as the server) -------------------------------------------------


@dataclass
class Fixture:
    """What the load needs: a resident's credentials and two clients."""

    nik: str
    basic_client: tuple[str, str]
    jwt_client_id: str
    jwt_key_pem: bytes
    jwt_kid: str
    rp_client_id: str
    redirect_uri: str


def create_fixture(public_url: str) -> Fixture:
    """A resident with an account and three clients, committed to the configured database."""
    os.environ["SATU_PUBLIC_URL"] = public_url
    from joserfc.jwk import ECKey

    from satu.app import import_models
    from satu.core.config import get_settings
    from satu.core.db import make_engine, make_sessionmaker, transaction
    from satu.identity import service as identity
    from satu.identity.oidc.clients import create_client
    from satu.identity.oidc.schemas import ClientSpec
    from satu.identity.schemas import ResidentIn

    import_models()
    settings = get_settings()
    factory = make_sessionmaker(make_engine(settings))
    tag = uuid.uuid4().hex[:8]
    serial = secrets.randbelow(8000) + 1000
    born = date(1985, 5, 12)
    nik = f"327301{born.day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"
    key = ECKey.generate_key("P-256", auto_kid=True)
    redirect_uri = "https://bench.example.go.id/callback"
    with transaction(factory) as session:
        if identity.find_resident(session=session, nik=nik) is None:
            identity.register_resident(
                session=session,
                data=ResidentIn(
                    nik=nik,
                    full_name="Uji Beban",
                    birth_place="Bandung",
                    birth_date=born,
                    sex="M",
                    address_line="Jl. Asia Afrika 1",
                    village_code="32.73.01.1001",
                    kk_number=f"3273010101{serial:06d}",
                ),
            )
            identity.create_account(session=session, nik=nik, password=PASSWORD)
        basic = create_client(
            session=session,
            settings=settings,
            spec=ClientSpec(
                client_id=f"bench-basic-{tag}",
                name="Bench basic",
                agency_id="kemendagri.dukcapil",
                grant_types=["client_credentials"],
                scopes=["update_oidc_client"],
                auth_method="client_secret_basic",
            ),
        )
        signed = create_client(
            session=session,
            settings=settings,
            spec=ClientSpec(
                client_id=f"bench-jwt-{tag}",
                name="Bench jwt",
                agency_id="kemendagri.dukcapil",
                grant_types=["client_credentials"],
                scopes=["update_oidc_client"],
                auth_method="private_key_jwt",
                jwks={"keys": [key.as_dict(private=False)]},
            ),
        )
        rp = create_client(
            session=session,
            settings=settings,
            spec=ClientSpec(
                client_id=f"bench-rp-{tag}",
                name="Bench RP",
                agency_id="kemendagri.dukcapil",
                redirect_uris=[redirect_uri],
                scopes=["openid", "profile"],
                auth_method="private_key_jwt",
                jwks={"keys": [key.as_dict(private=False)]},
            ),
        )
    assert basic.client_secret
    return Fixture(
        nik,
        (basic.client.client_id, basic.client_secret),
        signed.client.client_id,
        key.as_pem(private=True),
        str(key.kid),
        rp.client.client_id,
        redirect_uri,
    )


def assertions(fixture: Fixture, client_id: str, audience: str, count: int) -> list[str]:
    """Pre-signed private_key_jwt assertions (the generator's cost stays out of the timing)."""
    from joserfc import jwt
    from joserfc.jwk import ECKey

    key = ECKey.import_key(fixture.jwt_key_pem, {"kid": fixture.jwt_kid})
    now = int(time.time())
    header = {"alg": "ES256", "kid": fixture.jwt_kid}
    return [
        jwt.encode(
            header,
            {
                "iss": client_id,
                "sub": client_id,
                "aud": audience,
                "iat": now,
                "exp": now + 300,
                "jti": uuid.uuid4().hex,
            },
            key,
        )
        for _ in range(count)
    ]


# --- load ---------------------------------------------------------------------------------------


async def run_phase(
    name: str,
    base: str,
    total: int,
    concurrency: int,
    time_limit: float,
    send: Callable[[httpx.AsyncClient, int, int], Awaitable[bool]],
    server_pid: int | None,
) -> Result:
    """Run `send(client, index, worker)` up to `total` times with `concurrency` workers."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    deadline = time.perf_counter() + time_limit
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    clients = [
        httpx.AsyncClient(base_url=base, limits=limits, timeout=60) for _ in range(concurrency)
    ]

    async def worker(number: int) -> None:
        nonlocal errors
        for index in counter:
            if time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            try:
                ok = await send(clients[number], index, number)
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += 0 if ok else 1

    cpu_before = process_tree_cpu(server_pid) if server_pid else None
    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu = (
        process_tree_cpu(server_pid) - cpu_before if server_pid and cpu_before is not None else None
    )
    for client in clients:
        await client.aclose()
    return Result(name, len(latencies), errors, elapsed, latencies, cpu)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def collect_codes(
    base: str, fixture: Fixture, count: int, concurrency: int, challenge: str
) -> list[str]:
    """Sign in once, consent once, then fetch `count` authorization codes from /authorize."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as browser:
        page = await browser.get("/masuk")
        token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        signed = await browser.post(
            "/masuk",
            data={"nik": fixture.nik, "password": PASSWORD, "next": "/akun", "csrf_token": token},
        )
        if signed.status_code != 303:
            raise SystemExit(f"bench sign-in failed: {signed.status_code}")
        params = {
            "response_type": "code",
            "client_id": fixture.rp_client_id,
            "redirect_uri": fixture.redirect_uri,
            "scope": "openid profile",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "s",
        }
        consent = await browser.get("/authorize", params=params)
        if consent.status_code == 200:
            fields = dict(
                re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', consent.text)
            )
            fields = {k: v.replace("&amp;", "&") for k, v in fields.items()}
            fields["decision"] = "allow"
            await browser.post("/authorize/consent", data=fields)
        codes: list[str] = []
        semaphore = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with semaphore:
                response = await browser.get("/authorize", params=params)
                location = response.headers.get("location", "")
                code = parse_qs(urlsplit(location).query).get("code")
                if code:
                    codes.append(code[0])

        await asyncio.gather(*(one() for _ in range(count)))
        return codes


async def login_cookies(base: str, concurrency: int) -> list[tuple[dict[str, str], str]]:
    """One CSRF cookie + token per virtual user (fetched before the timed phase)."""
    pairs = []
    for _ in range(concurrency):
        async with httpx.AsyncClient(base_url=base, timeout=60) as browser:
            page = await browser.get("/masuk")
            pairs.append((dict(browser.cookies), CSRF.search(page.text).group(1)))  # type: ignore[union-attr]
    return pairs


async def measure(
    args: argparse.Namespace, url: str, fixture: Fixture, server_pid: int | None
) -> list[Result]:
    """Every phase, in order."""
    n, conc, limit = args.requests, args.concurrency, args.time_limit
    token_url = f"{url}/oauth/token"
    basic_auth = httpx.BasicAuth(*fixture.basic_client)
    results = []

    async def healthz(client: httpx.AsyncClient, _i: int, _w: int) -> bool:
        return (await client.get("/healthz")).status_code == 200

    await run_phase("warm-up", url, 200, conc, limit, healthz, None)
    results.append(await run_phase("/healthz", url, n, conc, limit, healthz, server_pid))

    async def cc_basic(client: httpx.AsyncClient, _i: int, _w: int) -> bool:
        response = await client.post(
            "/oauth/token", auth=basic_auth, data={"grant_type": "client_credentials"}
        )
        return response.status_code == 200

    results.append(
        await run_phase(
            "client_credentials (secret_basic)", url, n, conc, limit, cc_basic, server_pid
        )
    )

    signed = assertions(fixture, fixture.jwt_client_id, token_url, n)

    async def cc_jwt(client: httpx.AsyncClient, i: int, _w: int) -> bool:
        response = await client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": signed[i],
            },
        )
        return response.status_code == 200

    results.append(
        await run_phase(
            "client_credentials (private_key_jwt)", url, n, conc, limit, cc_jwt, server_pid
        )
    )

    verifier = b64url(secrets.token_bytes(32))
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    code_count = min(n, args.codes)
    codes = await collect_codes(url, fixture, code_count, conc, challenge)
    rp_assertions = assertions(fixture, fixture.rp_client_id, token_url, len(codes))

    async def exchange(client: httpx.AsyncClient, i: int, _w: int) -> bool:
        response = await client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": codes[i],
                "redirect_uri": fixture.redirect_uri,
                "code_verifier": verifier,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": rp_assertions[i],
            },
        )
        return response.status_code == 200 and "id_token" in response.json()

    results.append(
        await run_phase(
            "authorization_code exchange",
            url,
            len(codes),
            conc,
            min(limit, 50.0),
            exchange,
            server_pid,
        )
    )

    users = await login_cookies(url, conc)

    async def login(client: httpx.AsyncClient, _i: int, worker: int) -> bool:
        cookies, token = users[worker]
        response = await client.post(
            "/masuk",
            cookies=cookies,
            data={"nik": fixture.nik, "password": PASSWORD, "next": "/akun", "csrf_token": token},
        )
        return response.status_code == 303

    results.append(
        await run_phase(
            "password sign-in", url, min(n, args.logins), conc, limit, login, server_pid
        )
    )
    return results


def report(results: list[Result], cores: int, url: str, concurrency: int) -> None:
    print(
        f"target {url}; server cores {cores}; concurrency {concurrency}; "
        f"machine CPUs {os.cpu_count()}"
    )
    header = (
        f"{'phase':<38} {'req':>6} {'err':>4} {'req/s':>9} {'/core':>9} "
        f"{'/CPU-s':>9} {'p50 ms':>8} {'p99 ms':>8}  per core vs Keycloak/vCPU"
    )
    print(header)
    print("-" * len(header))
    healthz = results[0].rps / cores if results else 0.0
    for result in results:
        per_core = result.rps / cores
        per_cpu = result.per_cpu_second()
        keycloak = next(
            (v for k, v in KEYCLOAK_PER_VCPU.items() if result.name.startswith(k)), None
        )
        basis = per_cpu if per_cpu is not None else per_core
        versus = f"{basis / keycloak:5.1f}x ({keycloak:.0f}/s)" if keycloak else ""
        print(
            f"{result.name:<38} {result.requests:>6} {result.errors:>4} {result.rps:>9.1f} "
            f"{per_core:>9.1f} {per_cpu if per_cpu is not None else float('nan'):>9.1f} "
            f"{result.percentile(0.5):>8.2f} {result.percentile(0.99):>8.2f}  {versus}"
        )
    for result in results[1:]:
        share = (result.rps / cores) / healthz if healthz else 0.0
        print(f"  {result.name}: {share:.2f} x /healthz throughput")
    print(
        "req/s: wall clock; /core: req/s divided by the server's cores (the load generator and"
        " the database share this machine); /CPU-s: successful requests per second of the"
        " server process's own CPU time, i.e. what one fully used core serves; the Keycloak"
        " comparison uses /CPU-s when it is known."
    )
    if any(r.errors for r in results):
        print("WARNING: some requests failed; figures count only successes in /CPU-s")
    _ = statistics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server on loopback (default: start one)")
    parser.add_argument("--database-url", help="database for the started server")
    parser.add_argument(
        "--server-cores",
        type=int,
        default=1,
        help="CPUs (and workers) of the server; a running server's core count",
    )
    parser.add_argument("--server-pid", type=int, help="a running server's pid, for CPU time")
    parser.add_argument("--requests", type=int, default=2000, help="requests per phase")
    parser.add_argument("--codes", type=int, default=2000, help="codes to exchange (<= 60 s)")
    parser.add_argument("--logins", type=int, default=400, help="password sign-ins")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per phase")
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 256:
        raise SystemExit("--requests must be 1..100000 and --concurrency 1..256")

    process = None
    env = dict(os.environ)
    env["SATU_LOG_LEVEL"] = "WARNING"
    env.setdefault("SATU_SECRET_KEY", secrets.token_urlsafe(32))
    if args.url:
        host = urlsplit(args.url).hostname or ""
        if host not in LOOPBACK:
            raise SystemExit("only loopback targets are allowed")
        url = args.url.rstrip("/")
        server_pid = args.server_pid
    else:
        if args.database_url:
            env["SATU_DATABASE_URL"] = args.database_url
        else:
            env["SATU_VAR_DIR"] = tempfile.mkdtemp(prefix="satu-bench-oidc-")
            env.pop("SATU_DATABASE_URL", None)
        url, process, _cpus = start_server(env, args.server_cores)
        server_pid = process.pid
        os.environ.update({k: v for k, v in env.items() if k.startswith("SATU_")})
    try:
        discovery = httpx.get(f"{url}/.well-known/openid-configuration", timeout=10).json()
        fixture = create_fixture(discovery["issuer"])
        results = asyncio.run(measure(args, url, fixture, server_pid))
    finally:
        if process is not None:
            stop_server(process)
    report(results, args.server_cores, url, args.concurrency)


if __name__ == "__main__":
    main()
