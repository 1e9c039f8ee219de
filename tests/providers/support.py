"""Helpers for the provider tests: real loopback servers, a stand-in for Satu's JWKS, and
signing requests the way the exchange gateway does (with the `http-message-signatures` lib)."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
    algorithms,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from satu.providers.signing import b64url, raw_public

REQUEST_COMPONENTS = (
    "@method",
    "@target-uri",
    "content-digest",
    "x-road-client",
    "x-road-request-id",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """Any ASGI app served by uvicorn on a free loopback port, in a background thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class GatewayKeys:
    """Stand-in for Satu's published JWKS (the registry part serves the real one)."""

    def __init__(self) -> None:
        self.keys: dict[str, Ed25519PrivateKey] = {}
        self.requests = 0
        self.app = Starlette(routes=[Route("/api/v1/exchange/keys", self.jwks)])

    def add(self, kid: str) -> Ed25519PrivateKey:
        self.keys[kid] = Ed25519PrivateKey.generate()
        return self.keys[kid]

    async def jwks(self, _request: Request) -> JSONResponse:
        self.requests += 1
        return JSONResponse(
            {
                "keys": [
                    {
                        "kty": "OKP",
                        "crv": "Ed25519",
                        "x": b64url(raw_public(k.public_key())),
                        "kid": kid,
                    }
                    for kid, k in self.keys.items()
                ]
            }
        )


def signed_request(
    method: str,
    url: str,
    *,
    key: Ed25519PrivateKey,
    kid: str,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    components: tuple[str, ...] = REQUEST_COMPONENTS,
    nonce: str | None = "fresh",
    created: datetime | None = None,
) -> httpx.Request:
    """An httpx request signed like the gateway signs (label `satu`, Ed25519, digest)."""
    request = httpx.Request(
        method,
        url,
        json=json,
        content=content,
        headers={
            "X-Road-Client": "ID/GOV/dinsos-bdg/bansos",
            "X-Road-Request-Id": secrets.token_hex(8),
            **(headers or {}),
        },
    )
    body = request.read()
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={kid: key}),
    )
    covered = [c for c in components if c != "content-digest" or body]
    signer.sign(
        request,
        key_id=kid,
        label="satu",
        nonce=secrets.token_urlsafe(12) if nonce == "fresh" else nonce,
        created=created or datetime.now(UTC),
        covered_component_ids=covered,
        body=body if "content-digest" in covered else None,
    )
    return request


def send(request: httpx.Request) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.send(request)


def verify_answer(response: httpx.Response, *, key_id: str, public_key: Any) -> dict[str, str]:
    """Verify a provider's signed answer (bound to the request); return what it covers."""
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={key_id: public_key}, private_keys={}),
    )
    results = verifier.verify(
        response,
        body=response.content,
        require_components=("@status", "content-digest", "x-road-request-id"),
    )
    return results[0].covered_components
