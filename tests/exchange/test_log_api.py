"""The log's public API over real HTTP, checked with the independent RFC 9162 verifier; the CLI.

The server runs on its own scratch database (its log is committed for real) so that other
tests' logs are not disturbed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from satu.app import create_app
from satu.cli import app as cli_app
from satu.core.config import Settings, get_settings
from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.core.migrations import upgrade
from satu.exchange import transparency
from satu.exchange.models import LogEntry
from satu.exchange.schemas import LogRecordIn
from tests.conftest import LiveServer
from tests.exchange import rfc9162_verifier as rfc

NIKS = ["3273011708900001", "3273015508900002", "3171010101900003"]
API = "/api/v1/exchange/log"
runner = CliRunner()


@dataclass
class LogServer:
    url: str
    factory: sessionmaker[Session]
    http: httpx.Client
    database_url: str

    def append(self, count: int) -> None:
        with transaction(self.factory) as session:
            start = transparency.tree_size(session=session)
            for i in range(start, start + count):
                transparency.append(session=session, record=_record(i))

    def sign(self) -> dict[str, Any]:
        with transaction(self.factory) as session:
            return transparency.sign_tree_head(session=session)


def _record(i: int) -> LogRecordIn:
    return LogRecordIn(
        logged_at=datetime(2025, 3, 1, 8, 0, i % 60, tzinfo=UTC),
        transaction_id=f"tx-{i}",
        request_id=f"rq-{i}",
        client_id="ID/GOV/KOTA-BDG/bansos",
        client_agency_id="kota-bandung",
        service_id="ID/GOV/DUKCAPIL/population/persons",
        provider_agency_id="dukcapil",
        method="GET",
        operation="GET /persons/{nik}",
        nik=NIKS[i % 3] if i % 4 else None,
        purpose="bansos",
        lawful_basis="consent:1",
        status=200,
        outcome="ok",
    )


@pytest.fixture(scope="module")
def log_server(module_scratch_database_url: str, settings: Settings) -> Iterator[LogServer]:
    engine = make_engine(settings, module_scratch_database_url)
    upgrade(engine)
    local = settings.model_copy(update={"database_url": module_scratch_database_url})
    server = LiveServer(create_app(local, engine=engine))
    server.start()
    factory = make_sessionmaker(engine)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            log = LogServer(server.url, factory, http, module_scratch_database_url)
            log.append(37)
            log.sign()
            log.append(26)
            log.sign()
            yield log
    finally:
        server.stop()
        engine.dispose()


def _get(log: LogServer, path: str, **params: Any) -> Any:
    response = log.http.get(API + path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _key(log: LogServer) -> bytes:
    jwk = _get(log, "/key")
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk
    return base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))


def _all_entries(log: LogServer, size: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < size:
        out += _get(log, "/get-entries", start=len(out), end=size - 1)["entries"]
    return out


def test_the_signed_head_and_every_entry_verify_independently(log_server: LogServer) -> None:
    sth = _get(log_server, "/sth")
    size = sth["tree_size"]
    assert size == 63
    root = base64.b64decode(sth["sha256_root_hash"])
    assert rfc.verify_tree_head(
        _key(log_server),
        sth["timestamp"],
        size,
        root,
        base64.b64decode(sth["tree_head_signature"]),
    )
    assert not rfc.verify_tree_head(
        _key(log_server),
        sth["timestamp"] + 1,
        size,
        root,
        base64.b64decode(sth["tree_head_signature"]),
    )
    entries = _all_entries(log_server, size)
    assert [e["index"] for e in entries] == list(range(size))
    raw = [base64.b64decode(e["leaf_input"]) for e in entries]
    assert rfc.merkle_tree_hash(raw) == root
    for i, item in enumerate(entries):
        leaf = rfc.hash_leaf(raw[i])
        assert item["leaf_hash"] == leaf.hex()
        by_index = _get(log_server, "/proof-by-index", index=i, tree_size=size)
        path = [base64.b64decode(h) for h in by_index["audit_path"]]
        assert rfc.verify_inclusion(i, size, leaf, path, root)
        assert not rfc.verify_inclusion(i, size, rfc.hash_leaf(b"forged"), path, root)
        if i % 7 == 0:
            by_hash = _get(
                log_server, "/proof-by-hash", hash=base64.b64encode(leaf).decode(), tree_size=size
            )
            assert by_hash["leaf_index"] == i and by_hash["audit_path"] == by_index["audit_path"]
    # The default tree size of a proof is the latest signed head's.
    assert _get(log_server, "/proof-by-index", index=5)["tree_size"] == size


def test_entries_show_the_subject_key_never_the_nik(log_server: LogServer) -> None:
    response = log_server.http.get(API + "/get-entries", params={"start": 0, "end": 62})
    for nik in NIKS:
        assert nik not in response.text
    subjects = {e["entry"]["subject"] for e in response.json()["entries"]}
    assert subjects == {None} | {transparency.subject_key(nik=n) for n in NIKS}


def test_old_heads_are_consistent_with_the_latest(log_server: LogServer) -> None:
    old = _get(log_server, "/sth/37")
    new = _get(log_server, "/sth")
    for first in (1, 2, 5, 16, 37, 50, 63):
        proof = _get(log_server, "/get-sth-consistency", first=first, second=new["tree_size"])
        path = [base64.b64decode(h) for h in proof["consistency"]]
        raw = [base64.b64decode(e["leaf_input"]) for e in _all_entries(log_server, first)[:first]]
        first_hash = rfc.merkle_tree_hash(raw)
        if first == 37:
            assert first_hash == base64.b64decode(old["sha256_root_hash"])
        second_hash = base64.b64decode(new["sha256_root_hash"])
        assert rfc.verify_consistency(first, new["tree_size"], first_hash, second_hash, path)
        assert first == new["tree_size"] or not rfc.verify_consistency(
            first, new["tree_size"], rfc.hash_leaf(b"x"), second_hash, path
        )


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/get-entries", {"start": 5, "end": 2}, 400),
        ("/get-entries", {"start": 10_000, "end": 10_001}, 400),
        ("/get-entries", {"start": -1, "end": 2}, 422),
        ("/get-entries", {"start": "x", "end": 2}, 422),
        ("/get-entries", {"start": 0}, 422),
        ("/proof-by-index", {"index": 63, "tree_size": 63}, 400),
        ("/proof-by-index", {"index": 0, "tree_size": 10_000}, 400),
        ("/proof-by-index", {"index": 0, "tree_size": 2**63}, 422),
        ("/proof-by-hash", {"hash": "not base64!"}, 400),
        ("/proof-by-hash", {"hash": base64.b64encode(b"short").decode()}, 400),
        ("/proof-by-hash", {"hash": base64.b64encode(bytes(32)).decode()}, 404),
        ("/get-sth-consistency", {"first": 0, "second": 5}, 400),
        ("/get-sth-consistency", {"first": 9, "second": 5}, 400),
        ("/get-sth-consistency", {"first": 1, "second": 10_000}, 400),
        ("/sth/12", {}, 404),
        ("/sth/abc", {}, 422),
    ],
)
def test_bad_requests_answer_problem_json(
    log_server: LogServer, path: str, params: dict[str, Any], status: int
) -> None:
    response = log_server.http.get(API + path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status


def test_get_entries_is_limited_to_1000(log_server: LogServer) -> None:
    log_server.append(1000)
    got = _get(log_server, "/get-entries", start=0, end=5000)["entries"]
    assert len(got) == 1000 and got[-1]["index"] == 999
    tail = _get(log_server, "/get-entries", start=1050, end=5000)["entries"]
    assert [e["index"] for e in tail] == list(range(1050, 1063))


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture
def cli_env(log_server: LogServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SATU_DATABASE_URL", log_server.database_url)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli_app, ["exchange", "log", *args])
    return result.exit_code, result.output


def test_verify_from_the_command_line(log_server: LogServer, cli_env, tmp_path) -> None:
    state = tmp_path / "head.json"
    code, out = _cli("verify", "--url", log_server.url, "--state", str(state), "--index", "3")
    assert code == 0, out
    saved = json.loads(state.read_text())
    log_server.append(9)
    code, out = _cli("sign-head")
    assert code == 0, out
    assert json.loads(out)["tree_size"] == saved["tree_size"] + 9
    code, out = _cli("verify", "--url", log_server.url, "--state", str(state), "--all")
    assert code == 0, out
    assert "Consistent with the saved head" in out and "All" in out
    assert json.loads(state.read_text())["tree_size"] == saved["tree_size"] + 9
    # A saved head the server's log does not extend (a forked or rewritten log) fails.
    forged = dict(saved, sha256_root_hash=base64.b64encode(bytes(32)).decode())
    state.write_text(json.dumps(forged))
    code, out = _cli("verify", "--url", log_server.url, "--state", str(state), "--sample", "0")
    assert code == 1 and "Verification failed" in out
    code, out = _cli("verify", "--url", "http://127.0.0.1:9", "--sample", "0")
    assert code == 2 and "Could not reach" in out


def test_satu_exchange_verify_is_the_same_verifier(log_server: LogServer, cli_env) -> None:
    result = runner.invoke(cli_app, ["exchange", "verify", "--url", log_server.url, "--index", "2"])
    assert result.exit_code == 0, result.output
    assert "The log verifies" in result.output
    broken = runner.invoke(cli_app, ["exchange", "verify", "--url", "http://127.0.0.1:9"])
    assert broken.exit_code == 2 and "Could not reach" in broken.output


def test_audit_from_the_command_line_detects_a_rewritten_entry(
    log_server: LogServer, cli_env
) -> None:
    code, out = _cli("audit")
    assert code == 0 and "The log verifies" in out, out
    with transaction(log_server.factory) as session:
        original = session.get(LogEntry, 20)
        assert original is not None
        before = original.entry
        session.execute(
            update(LogEntry)
            .where(LogEntry.idx == 20)
            .values(entry=before.replace(b"bansos", b"sensus", 1))
        )
    try:
        code, out = _cli("audit")
        assert code == 1
        assert "entry-altered" in out and "entry 20" in out
        # And the all-entries check over HTTP sees it too.
        code, out = _cli("verify", "--url", log_server.url, "--all", "--sample", "0")
        assert code == 1 and "entry 20" in out
        # Rewritten with a matching leaf hash: the root no longer matches the signed head.
        with transaction(log_server.factory) as session:
            edited = before.replace(b"bansos", b"sensus", 1)
            session.execute(
                update(LogEntry).where(LogEntry.idx == 20).values(leaf_hash=rfc.hash_leaf(edited))
            )
        code, out = _cli("verify", "--url", log_server.url, "--all", "--sample", "0")
        assert code == 1 and "do not hash to the root" in out
        code, out = _cli("audit")
        assert code == 1 and "head-root-mismatch" in out and "subtree-mismatch" in out
    finally:
        with transaction(log_server.factory) as session:
            session.execute(
                update(LogEntry)
                .where(LogEntry.idx == 20)
                .values(entry=before, leaf_hash=rfc.hash_leaf(before))
            )
