"""Helpers for the pub/sub and data tracker tests.

- a resident with an account, signed in through the real sign-in form;
- a subscriber backend: a real HTTP server on loopback recording what it is sent.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

os.environ.setdefault("SATU_ARGON2_MEMORY_KIB", "64")
os.environ.setdefault("SATU_ARGON2_TIME_COST", "1")


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
