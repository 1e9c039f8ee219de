"""Complaint intake throughput and statistics-page latency over real HTTP.

Usage:
    .venv/bin/python bench/complaints.py --database-url postgresql+psycopg://...   # own server
    .venv/bin/python bench/complaints.py --url http://127.0.0.1:8000              # running one

With `--database-url` it starts `satu serve` on a free loopback port against that database
(seed it first: `SATU_DATABASE_URL=... satu complaints seed --n 1000000`), with the per-IP
intake limit raised for the run, measures, and stops the server. It prints how many
complaints the database holds, /healthz as the same-run baseline, intake requests/s (JSON API
and Open311 are the same code path after parsing; the JSON API is measured), the statistics
page's first (cold: aggregates computed) and warm (cached) latency, and, given a database URL,
the time to compute the figures directly, uncached. Only loopback targets are allowed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
PLACES = ("11.01.01", "11.71.01", "32.73.01", "31.71.01", "35.78.01", "51.71.01", "73.71.01")
SERVICES = ("ktp-el", "pkh", "jkn", "jalan-kabupaten", "air-minum", "puskesmas", "paspor")


@dataclass
class Result:
    """Figures of one measured run."""

    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<18} {self.requests:>6} req  {self.errors:>3} errors  "
            f"{self.rps:>8.1f} req/s  p50 {self.percentile(0.50):8.2f} ms  "
            f"p99 {self.percentile(0.99):8.2f} ms"
        )


def report_body(index: int, rng: random.Random) -> dict:
    """A plausible, distinct report (distinct so duplicate detection does real work)."""
    service = SERVICES[index % len(SERVICES)]
    return {
        "title": f"Keluhan layanan {service} nomor {index}",
        "body": f"Pelayanan {service} di kantor dekat rumah kami sangat lambat, sudah "
        f"{rng.randint(2, 9)} minggu belum ada kepastian. Rujukan {index}-{rng.random():.6f}.",
        "service_code": service,
        "region_code": PLACES[index % len(PLACES)],
    }


async def run_load(
    base: str, total: int, concurrency: int, time_limit: float, name: str, kind: str
) -> Result:
    """`kind` is healthz, intake or statistics."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    deadline = time.perf_counter() + time_limit
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    rng = random.Random(5)
    offset = int(time.time())

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal errors
            for index in counter:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                try:
                    if kind == "intake":
                        body = report_body(offset + index, rng)
                        response = await client.post("/api/v1/complaints", json=body)
                        ok = response.status_code == 201
                    elif kind == "statistics":
                        response = await client.get("/pengaduan/statistik")
                        ok = response.status_code == 200
                    else:
                        response = await client.get("/healthz")
                        ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                if not ok:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(name, len(latencies), errors, elapsed, latencies)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database_url: str, workers: int) -> tuple[str, subprocess.Popen[bytes]]:
    """Start `satu serve` on a free loopback port against `database_url`."""
    env = dict(os.environ)
    env.update(
        SATU_LOG_LEVEL="WARNING",
        SATU_DATABASE_URL=database_url,
        SATU_COMPLAINTS_RATE_PER_IP_PER_HOUR="100000000",
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "satu", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early with code {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return url, process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not become ready")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def direct_compute(database_url: str, runs: int = 3) -> list[float]:
    """Seconds to compute the statistics uncached, in-process, `runs` times."""
    sys.path.insert(0, str(REPO))
    from satu.complaints import statistics as figures
    from satu.core.config import Settings
    from satu.core.db import make_engine, make_sessionmaker, transaction

    engine = make_engine(Settings(database_url=database_url))
    times = []
    for _ in range(runs):
        with transaction(make_sessionmaker(engine)) as session:
            started = time.perf_counter()
            figures.compute(session=session)
            times.append(time.perf_counter() - started)
    engine.dispose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server on loopback (its intake limits apply)")
    parser.add_argument("--database-url", help="database for the started server")
    parser.add_argument("--requests", type=int, default=2000, help="intake requests")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per phase")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    args = parser.parse_args()
    if not 1 <= args.requests <= 200_000 or not 1 <= args.concurrency <= 256:
        raise SystemExit("--requests must be 1..200000 and --concurrency 1..256")
    if not args.url and not args.database_url:
        raise SystemExit("give --database-url (seeded) or --url")
    process = None
    if args.url:
        if (urlsplit(args.url).hostname or "") not in LOOPBACK:
            raise SystemExit("only loopback targets are allowed")
        url = args.url.rstrip("/")
    else:
        url, process = start_server(args.database_url, args.workers)
    try:
        started = time.perf_counter()
        first = httpx.get(url + "/pengaduan/statistik", timeout=600)
        cold = time.perf_counter() - started
        if first.status_code != 200:
            raise SystemExit(f"statistics page answered {first.status_code}")
        total = httpx.get(url + "/api/v1/complaints/statistics", timeout=600).json()["total"]
        c = args.concurrency
        healthz = asyncio.run(run_load(url, args.requests, c, args.time_limit, "/healthz",
                                       "healthz"))  # fmt: skip
        intake = asyncio.run(run_load(url, args.requests, c, args.time_limit, "intake (POST)",
                                      "intake"))  # fmt: skip
        warm = asyncio.run(run_load(url, min(args.requests, 1000), c, args.time_limit,
                                    "statistics (warm)", "statistics"))  # fmt: skip
    finally:
        if process is not None:
            stop_server(process)
    target = args.database_url.split("@")[-1] if args.database_url else "as configured"
    print(f"target: {url}  database: {target}  complaints in database: {total:,}")
    print(f"concurrency {args.concurrency}, server workers {args.workers}, CPUs {os.cpu_count()}")
    print(healthz.line())
    print(intake.line())
    print(f"intake throughput = {intake.rps / healthz.rps:.2f} x /healthz" if healthz.rps else "")
    print(f"statistics page, first request (aggregates computed): {cold * 1000:,.0f} ms")
    print(warm.line())
    if args.database_url:
        times = direct_compute(args.database_url)
        print("statistics computed directly, uncached: "
              + ", ".join(f"{t * 1000:,.0f} ms" for t in times)
              + f" (median {statistics.median(times) * 1000:,.0f} ms)")  # fmt: skip


if __name__ == "__main__":
    main()
