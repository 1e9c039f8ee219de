"""Helpers for the pub/sub and data tracker tests.

- a stand-in for `satu.exchange.transparency` (the log part) used ONLY while that module is not
  on this branch yet: same contract (append, subject_key, inclusion_proof, latest_tree_head),
  RFC 9162 hashing; the real module replaces it as soon as it exists;
- a resident with an account, signed in through the real sign-in form;
- a subscriber backend: a real HTTP server on loopback recording what it is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

os.environ.setdefault("SATU_ARGON2_MEMORY_KIB", "64")
os.environ.setdefault("SATU_ARGON2_TIME_COST", "1")


def _install_transparency_stand_in() -> None:
    try:
        import satu.exchange.transparency

        return
    except ModuleNotFoundError:
        pass
    from sqlalchemy import func, select

    import satu.exchange
    from satu.exchange.models import LogEntry
    from satu.exchange.schemas import LogReceipt

    def subject_key(*, nik: str) -> str:
        return hmac.new(b"stand-in", nik.encode(), hashlib.sha256).hexdigest()

    def append(*, session, record) -> LogReceipt:  # type: ignore[no-untyped-def]
        index = session.scalar(select(func.count()).select_from(LogEntry)) or 0
        data = record.model_dump(mode="json")
        nik = data.pop("nik")
        data["subject_key"] = subject_key(nik=nik) if nik else None
        entry = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        leaf = hashlib.sha256(b"\x00" + entry).digest()
        session.add(
            LogEntry(
                idx=index,
                leaf_hash=leaf,
                entry=entry,
                logged_at=record.logged_at,
                kind=record.kind,
                transaction_id=record.transaction_id,
                client_id=record.client_id,
                service_id=record.service_id,
                subject_key=data["subject_key"],
                purpose=record.purpose,
                outcome=record.outcome,
            )
        )
        session.flush()
        return LogReceipt(index=index, leaf_hash=leaf.hex())

    def _root(leaves: list[bytes]) -> bytes:
        if len(leaves) == 1:
            return leaves[0]
        k = 1
        while k * 2 < len(leaves):
            k *= 2
        return hashlib.sha256(b"\x01" + _root(leaves[:k]) + _root(leaves[k:])).digest()

    def _path(m: int, leaves: list[bytes]) -> list[bytes]:
        if len(leaves) == 1:
            return []
        k = 1
        while k * 2 < len(leaves):
            k *= 2
        if m < k:
            return [*_path(m, leaves[:k]), _root(leaves[k:])]
        return [*_path(m - k, leaves[k:]), _root(leaves[:k])]

    def inclusion_proof(*, session, index: int, tree_size: int | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        rows = session.scalars(select(LogEntry.leaf_hash).order_by(LogEntry.idx)).all()
        size = tree_size or len(rows)
        leaves = list(rows[:size])
        return {
            "leaf_index": index,
            "tree_size": size,
            "audit_path": [h.hex() for h in _path(index, leaves)],
            "root_hash": _root(leaves).hex(),
        }

    def latest_tree_head(*, session) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
        return None

    module = types.ModuleType("satu.exchange.transparency")
    module.append = append  # type: ignore[attr-defined]
    module.subject_key = subject_key  # type: ignore[attr-defined]
    module.inclusion_proof = inclusion_proof  # type: ignore[attr-defined]
    module.latest_tree_head = latest_tree_head  # type: ignore[attr-defined]
    sys.modules["satu.exchange.transparency"] = module
    satu.exchange.transparency = module  # type: ignore[attr-defined]


_install_transparency_stand_in()

PASSWORD = "kopi-tubruk-pagi-hari"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_resident(session: Any, serial: int) -> str:
    """Register a resident (born 17 Aug 1990, Bandung) and an account; returns the NIK."""
    from satu.identity import passwords, service
    from satu.identity.schemas import ResidentIn

    passwords.hasher.cache_clear()
    passwords._dummy_hash.cache_clear()
    nik = f"327301170890{serial:04d}"
    service.register_resident(
        session=session,
        data=ResidentIn(
            nik=nik,
            full_name="Siti Rahma",
            birth_place="Bandung",
            birth_date="1990-08-17",
            sex="M",
            address_line="Jl. Setiabudi No. 10",
            village_code="32.73.01.1001",
            kk_number=f"3273010101{serial:06d}",
        ),
    )
    service.create_account(session=session, nik=nik, password=PASSWORD)
    session.commit()
    return nik


def sign_in(client: Any, nik: str) -> None:
    """Sign `client` in through the real form."""
    page = client.get("/masuk")
    token = _CSRF.search(page.text)
    assert token, page.text
    response = client.post(
        "/masuk",
        data={"nik": nik, "password": PASSWORD, "next": "/akun", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


class Recorder:
    """What a subscriber backend received."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()


@contextmanager
def subscriber_backend(status: int = 200) -> Iterator[tuple[str, Recorder]]:
    """A real HTTP server on loopback answering `status` to every POST and recording it."""
    recorder = Recorder(status)
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        body = await request.body()
        with recorder.lock:
            recorder.requests.append(
                {
                    "url": str(request.url),
                    "headers": dict(request.headers),
                    "body": body,
                }
            )
        return Response(status_code=recorder.status)

    import socket
    import time

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "subscriber backend did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/hook", recorder
    finally:
        server.should_exit = True
        thread.join(timeout=10)
