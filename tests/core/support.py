"""Throwaway probe routes and helpers for the core kernel tests.

The probe routes exist only on app instances built by the tests; they exercise the kernel's
error handling, body limits and metrics the way a real domain route would.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field

from satu.core.auth import public
from satu.core.errors import Problem
from satu.core.logging import JsonFormatter

BOOM_MARKER = "kaboom-internal-detail-7f3a"


class ProbeIn(BaseModel):
    """A small JSON body, like a domain's create schema."""

    name: str = Field(min_length=1, max_length=50)
    count: int = Field(ge=0, le=1000)
    password: str | None = None


probe_router = APIRouter()


@probe_router.post("/api/v1/_probe/echo", dependencies=[Depends(public)])
def probe_echo(body: ProbeIn) -> dict[str, Any]:
    """Echo a validated body."""
    return {"name": body.name, "count": body.count}


@probe_router.post("/api/v1/_probe/raw", dependencies=[Depends(public)])
async def probe_raw(request: Request) -> dict[str, int]:
    """Read the raw body and report its size."""
    return {"size": len(await request.body())}


@probe_router.get("/api/v1/_probe/items/{item_id}", dependencies=[Depends(public)])
def probe_item(item_id: int) -> dict[str, int]:
    """A route with a path parameter (for route-template metrics)."""
    if item_id == 404:
        raise Problem("not-found", "No such item.")
    return {"id": item_id}


@probe_router.get("/api/v1/_probe/boom", dependencies=[Depends(public)])
def probe_boom() -> dict[str, str]:
    """An API route that fails unexpectedly."""
    raise RuntimeError(BOOM_MARKER)


@probe_router.get("/_probe/boom", dependencies=[Depends(public)])
def probe_boom_page() -> dict[str, str]:
    """A page route that fails unexpectedly."""
    raise RuntimeError(BOOM_MARKER)


@probe_router.get("/api/v1/_probe/log", dependencies=[Depends(public)])
def probe_log() -> dict[str, str]:
    """Log a line carrying secret-looking fields."""
    logging.getLogger("satu.probe").warning(
        "probe log",
        extra={"password": "hunter2", "api_token": "tok-123", "citizen_count": 3},
    )
    return {"status": "logged"}


def with_probes(application: FastAPI) -> FastAPI:
    """Add the probe routes to an app built by `create_app`."""
    application.include_router(probe_router)
    return application


class LogCapture:
    """JSON log lines written by the app's formatter, parsed."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter())
        self.handler.setLevel(logging.DEBUG)

    def records(self) -> list[dict[str, Any]]:
        """Every line, parsed as JSON (fails the test if a line is not JSON)."""
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProbeServer:
    """A uvicorn server for one app, in a background thread."""

    def __init__(self, application: FastAPI) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application, host="127.0.0.1", port=self.port, log_config=None, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("probe server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


SMALL_LIMIT = 2048
