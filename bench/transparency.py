"""Transparency log: append rate and proof latency at a large log size (PostgreSQL).

Usage:
    .venv/bin/python bench/transparency.py --database-url postgresql+psycopg://.../db \
        [--schema bench_log] [--entries 1000000] [--workers 4] [--seconds 20]

It works in its own schema of that database (created if missing, selected through the
connection's search_path; `--drop` removes it afterwards), migrates it, bulk-loads canonical
entries up to `--entries` (bulk insert, not the append path), then measures:
- append rate: `--workers` threads calling `transparency.append` and committing each one (the
  gateway's path), for `--seconds`;
- signing a tree head over the whole log (which derives the stored subtree hashes still missing);
- inclusion proof latency (random index, the signed size), consistency proof latency, and an
  inclusion proof against the current, partly unsigned, tail.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from satu.core.config import Settings
from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.core.migrations import upgrade
from satu.exchange import merkle, transparency
from satu.exchange.models import LogEntry
from satu.exchange.schemas import LogRecordIn

BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)


def record(i: int) -> LogRecordIn:
    """A realistic exchange record."""
    return LogRecordIn(
        logged_at=BASE_TIME + timedelta(milliseconds=i),
        transaction_id=f"bench-{i}",
        request_id=f"rq-{i}",
        client_id="ID/GOV/KOTA-BDG/bansos",
        client_agency_id="kota-bandung",
        service_id="ID/GOV/DUKCAPIL/population/persons",
        provider_agency_id="dukcapil",
        method="GET",
        operation="GET /persons/{nik}",
        nik=f"3273011708{i % 1000000:06d}",
        purpose="bansos",
        lawful_basis="consent:1",
        request_digest="sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
        status=200,
        outcome="ok",
    )


def bulk_fill(factory, target: int) -> float:
    """Insert canonical entries (bulk) until the log holds `target`; seconds taken."""
    started = time.perf_counter()
    with transaction(factory) as session:
        have = transparency.tree_size(session=session)
    batch = 10_000
    while have < target:
        rows = []
        for i in range(have, min(target, have + batch)):
            rec = record(i)
            entry = transparency.canonical_entry(rec)
            cols = transparency.column_values(json.loads(entry))
            rows.append(
                {
                    "idx": i,
                    "leaf_hash": merkle.leaf_hash(entry),
                    "entry": entry,
                    "logged_at": rec.logged_at,
                    **cols,
                }
            )
        with transaction(factory) as session:
            session.execute(insert(LogEntry), rows)
        have += len(rows)
        if have % 100_000 == 0:
            print(f"  loaded {have:,}", flush=True)
    return time.perf_counter() - started


def append_rate(factory, workers: int, seconds: float) -> tuple[int, float, list[float]]:
    """Threads appending (one transaction each) for `seconds`: (appended, seconds, latencies)."""
    stop = time.perf_counter() + seconds
    latencies: list[float] = []
    lock = threading.Lock()

    def work(w: int) -> None:
        n = 0
        mine = []
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            with transaction(factory) as session:
                transparency.append(session=session, record=record(10_000_000 + w * 1_000_000 + n))
            mine.append(time.perf_counter() - t0)
            n += 1
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies), time.perf_counter() - started, latencies


def ms(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def timed(factory, fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        with transaction(factory) as session:
            t0 = time.perf_counter()
            fn(session)
            out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--schema", default="bench_log")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument("--drop", action="store_true", help="drop the schema afterwards")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("the bench is for PostgreSQL")
    admin = make_engine(Settings(database_url=args.database_url))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{args.schema}"'))
    url = make_url(args.database_url).update_query_dict({"options": f"-csearch_path={args.schema}"})
    settings = Settings(database_url=url.render_as_string(hide_password=False), db_pool_size=8)
    engine = make_engine(settings)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    print(f"Transparency log bench on PostgreSQL, schema {args.schema}")
    loaded = bulk_fill(factory, args.entries)
    with transaction(factory) as session:
        size = transparency.tree_size(session=session)
    print(f"log size: {size:,} entries (bulk load {loaded:.1f} s)")

    t0 = time.perf_counter()
    with transaction(factory) as session:
        head = transparency.sign_tree_head(session=session)
    print(
        f"sign head at {head['tree_size']:,} (derives missing subtree hashes): "
        f"{time.perf_counter() - t0:.2f} s"
    )

    for workers in (1, args.workers):
        n, secs, lat = append_rate(factory, workers, args.seconds)
        print(
            f"append, {workers} worker(s), commit each: {n / secs:,.0f} entries/s "
            f"(p50 {ms(lat, 0.5):.2f} ms, p99 {ms(lat, 0.99):.2f} ms, {n:,} appended)"
        )
    with transaction(factory) as session:
        size = transparency.tree_size(session=session)
        nodes = session.scalar(text("SELECT count(*) FROM exchange_log_node"))
        gaps = session.scalar(select(func.count()).select_from(LogEntry)) != size
    print(f"log size now {size:,}; stored subtree hashes {nodes:,}; gaps: {gaps}")

    signed = head["tree_size"]
    incl = timed(
        factory,
        lambda s: transparency.inclusion_proof(
            session=s, index=random.randrange(signed), tree_size=signed
        ),
        args.proofs,
    )
    print(
        f"inclusion proof at {signed:,} (signed size): p50 {ms(incl, 0.5):.2f} ms, "
        f"p99 {ms(incl, 0.99):.2f} ms, mean {statistics.mean(incl) * 1000:.2f} ms"
    )
    cons = timed(
        factory,
        lambda s: transparency.consistency_proof(
            session=s, first=random.randrange(1, signed), second=signed
        ),
        args.proofs,
    )
    print(
        f"consistency proof to {signed:,}: p50 {ms(cons, 0.5):.2f} ms, p99 {ms(cons, 0.99):.2f} ms"
    )
    tail = timed(
        factory,
        lambda s: transparency.inclusion_proof(session=s, index=random.randrange(signed)),
        min(args.proofs, 100),
    )
    print(
        f"inclusion proof at the current size {size:,} ({size - signed:,} unsigned entries): "
        f"p50 {ms(tail, 0.5):.2f} ms, p99 {ms(tail, 0.99):.2f} ms (first one derives hashes)"
    )
    t0 = time.perf_counter()
    with transaction(factory) as session:
        head = transparency.sign_tree_head(session=session)
    print(f"sign head at {head['tree_size']:,}: {time.perf_counter() - t0:.2f} s")
    engine.dispose()
    if args.drop:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE'))
    admin.dispose()


if __name__ == "__main__":
    main()
