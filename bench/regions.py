"""Region-search throughput and latency over real HTTP, with /healthz as the same-run baseline.

Usage:
    .venv/bin/python bench/regions.py                       # temp SQLite DB, own server
    .venv/bin/python bench/regions.py --database-url postgresql+psycopg://...  # own server
    .venv/bin/python bench/regions.py --url http://127.0.0.1:8000   # a running server

Without `--url` it loads the region data (`satu data load-regions`, idempotent), starts
`satu serve` on a free loopback port, measures, and stops the server. Load is bounded by a
request count, a concurrency limit and a time limit; only loopback targets are allowed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

SEARCHES = (
    "/api/v1/regions?q=bandung",
    "/api/v1/regions?q=sari&limit=50",
    "/api/v1/regions?q=ba",
    "/api/v1/regions?q=32.73",
    "/api/v1/regions?q=3404",
    "/api/v1/regions?parent=34.04",
    "/api/v1/regions?level=1&limit=100",
    "/api/v1/regions?q=jakarta&level=2",
    "/api/v1/regions?q=sleman&offset=2&limit=2",
    "/api/v1/regions/32.73.01",
    "/api/v1/regions?q=kota",
    "/api/v1/regions?parent=32.73.01",
)


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
            f"{self.name:<14} {self.requests:>6} req  {self.errors:>3} errors  "
            f"{self.rps:>8.1f} req/s  p50 {self.percentile(0.50):7.2f} ms  "
            f"p99 {self.percentile(0.99):7.2f} ms  "
            f"mean {statistics.fmean(self.latencies or [0.0]) * 1000:7.2f} ms"
        )


async def run_load(
    base: str, paths: tuple[str, ...], total: int, concurrency: int, time_limit: float, name: str
) -> Result:
    """Send up to `total` GETs cycling through `paths` with `concurrency` workers."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    deadline = time.perf_counter() + time_limit
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            for index in counter:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                try:
                    response = await client.get(paths[index % len(paths)])
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


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early with code {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not become ready")


def start_server(database_url: str | None, workers: int) -> tuple[str, subprocess.Popen[bytes]]:
    """Load data and start `satu serve` on a free loopback port."""
    env = dict(os.environ)
    env["SATU_LOG_LEVEL"] = "WARNING"
    if database_url:
        env["SATU_DATABASE_URL"] = database_url
    else:
        env["SATU_VAR_DIR"] = tempfile.mkdtemp(prefix="satu-bench-")
        env.pop("SATU_DATABASE_URL", None)
    loaded = subprocess.run(
        [sys.executable, "-m", "satu", "data", "load-regions"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if loaded.returncode != 0:
        raise SystemExit(f"loading regions failed:\n{loaded.stderr}")
    print(loaded.stdout.strip())
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "satu",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, process)
    return url, process


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server on loopback (default: start one)")
    parser.add_argument("--database-url", help="database for the started server")
    parser.add_argument("--requests", type=int, default=3000, help="requests per phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 256:
        raise SystemExit("--requests must be 1..100000 and --concurrency 1..256")

    process = None
    if args.url:
        host = urlsplit(args.url).hostname or ""
        if host not in LOOPBACK:
            raise SystemExit("only loopback targets are allowed")
        url = args.url.rstrip("/")
    else:
        url, process = start_server(args.database_url, args.workers)
    try:
        for path in SEARCHES:
            response = httpx.get(url + path, timeout=30)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}: {response.text[:200]}")
        warm = min(args.requests, 200)
        asyncio.run(run_load(url, SEARCHES, warm, args.concurrency, args.time_limit, "warm-up"))
        healthz = asyncio.run(
            run_load(
                url, ("/healthz",), args.requests, args.concurrency, args.time_limit, "/healthz"
            )
        )
        search = asyncio.run(
            run_load(
                url, SEARCHES, args.requests, args.concurrency, args.time_limit, "region search"
            )
        )
    finally:
        if process is not None:
            stop_server(process)
    target = args.database_url.split("@")[-1] if args.database_url else "SQLite (temp file)"
    print(f"target: {url}  database: {'as configured' if args.url else target}")
    print(f"concurrency {args.concurrency}, server workers {args.workers}")
    print(healthz.line())
    print(search.line())
    ratio = search.rps / healthz.rps if healthz.rps else 0.0
    print(f"region search throughput = {ratio:.2f} x /healthz")


if __name__ == "__main__":
    main()
