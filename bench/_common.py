"""Shared bits of the benchmarks: free ports, `satu` subcommands, server processes, load.

Only loopback targets are used; every phase is bounded by a time limit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

try:
    import sniffio  # noqa: F401
except ImportError:  # httpcore tries to import it on every request: remember the miss
    sys.modules.setdefault("sniffio", None)  # type: ignore[assignment]

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def satu(env: dict[str, str], *args: str, timeout: int = 900) -> str:
    """Run `python -m satu ARGS` with `env`; exit with its output if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "satu", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"satu {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def start_process(
    command: list[str], env: dict[str, str], ready_url: str, *, timeout: float = 60
) -> subprocess.Popen[bytes]:
    """Start a server process (own session) and wait until `ready_url` answers 200."""
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{command[0]} exited early with code {process.returncode}")
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_process(process)
    raise SystemExit(f"{' '.join(command)} did not become ready")


def start_satu_server(env: dict[str, str], port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    """`satu serve` on loopback:port, ready when /healthz answers."""
    command = [sys.executable, "-m", "satu", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)]
    return start_process(command, env, f"http://127.0.0.1:{port}/healthz")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started by `start_process` (its whole session)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@dataclass
class Result:
    """Figures of one measured phase."""

    name: str
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        """Latency percentile in milliseconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def run_load(
    name: str,
    call: Callable[[httpx.AsyncClient], Awaitable[bool]],
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 1.0,
    on_start: Callable[[], None] | None = None,
) -> Result:
    """Call `call` from `concurrency` workers for `seconds` (after a warm-up); ok = True.
    `on_start` is called when the warm-up ends and the measured calls begin."""
    result = Result(name)
    # One small pool per 4 workers: httpcore polls every pooled connection on each request.
    shards = max(1, concurrency // 4)
    size = -(-concurrency // shards)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    clients = [httpx.AsyncClient(limits=limits, timeout=30, trust_env=False) for _ in range(shards)]
    try:
        end_warmup = time.perf_counter() + warmup
        while time.perf_counter() < end_warmup:
            await call(clients[0])
        if on_start is not None:
            on_start()
        started = time.perf_counter()
        stop = started + seconds

        async def worker(client: httpx.AsyncClient) -> None:
            while time.perf_counter() < stop:
                begun = time.perf_counter()
                try:
                    ok = await call(client)
                except httpx.HTTPError:
                    ok = False
                result.latencies.append(time.perf_counter() - begun)
                result.requests += 1
                result.errors += 0 if ok else 1

        await asyncio.gather(*(worker(clients[i % shards]) for i in range(concurrency)))
        result.seconds = time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()
    return result


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """CPU time (user + system) used so far by a process started by `start_process` and every
    process of its session (uvicorn's workers), from /proc; 0.0 where /proc is missing."""
    return _proc_cpu(lambda command, session: session == process.pid)


def named_cpu_seconds(name: str) -> float:
    """CPU time used so far by every process whose command name is `name` (e.g. the local
    database server's `postgres` processes), from /proc; 0.0 where /proc is missing."""
    return _proc_cpu(lambda command, session: command == name)


def _proc_cpu(chosen: Callable[[str, int], bool]) -> float:
    total = 0
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            head, _, tail = (entry / "stat").read_text().rpartition(")")
        except OSError:
            continue
        fields = tail.split()
        # pid (command) state ppid pgrp session ... utime(14) stime(15); fields from state
        if chosen(head.partition("(")[2], int(fields[3])):
            total += int(fields[11]) + int(fields[12])
    return total / tick
