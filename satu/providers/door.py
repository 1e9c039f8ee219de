"""The provider's door: an ASGI middleware that lets in only requests the exchange signed,
and signs every answer that goes out (refusals included)."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio.to_thread

from satu.providers.signing import (
    FieldLines,
    KeysUnavailable,
    RequestVerifier,
    ResponseSigner,
    ResponseView,
    SignatureRefused,
    request_view,
)

log = logging.getLogger(__name__)

# Paths anyone may GET: documentation, not data (the exchange serves the same OpenAPI).
OPEN_PATHS = frozenset({"/openapi.json", "/healthz"})


class _TooLarge(Exception):
    pass


def _problem(status: int, title: str, detail: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    return status, [("content-type", "application/problem+json")], body.encode()


class SignedExchangeDoor:
    """Verify the RFC 9421 request signature before the app runs; sign the answer after."""

    def __init__(
        self,
        app: Any,
        *,
        verifier: RequestVerifier,
        signer: ResponseSigner,
        max_body_bytes: int = 1_048_576,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.signer = signer
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        view = request_view(scope)
        try:
            body = await self._read_body(receive)
        except _TooLarge:
            await self._answer(send, view, *_problem(413, "Body too large", "request too large"))
            return
        if not (scope["method"] in ("GET", "HEAD") and scope["path"] in OPEN_PATHS):
            try:
                params = await anyio.to_thread.run_sync(self.verifier.verify, view, body)
            except SignatureRefused as exc:
                log.info("refused a request: %s", exc)
                await self._answer(send, view, *_problem(401, "Signature refused", str(exc)))
                return
            except KeysUnavailable:
                detail = "the exchange's public keys cannot be fetched; try again later"
                await self._answer(send, view, *_problem(503, "Keys unavailable", detail))
                return
            scope = {**scope, "state": {**scope.get("state", {}), "signature": params}}
        await self._forward(scope, body, receive, send, view)

    async def _read_body(self, receive: Any) -> bytes:
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _forward(
        self, scope: dict[str, Any], body: bytes, receive: Any, send: Any, view: Any
    ) -> None:
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def collect(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    headers = [
                        (k.decode("latin-1"), v.decode("latin-1"))
                        for k, v in start.get("headers", [])
                        if k.lower() not in (b"content-length", b"content-digest")
                    ]
                    await self._answer(send, view, start["status"], headers, b"".join(chunks))

        await self.app(scope, replay, collect)

    async def _answer(
        self, send: Any, view: Any, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        lines = FieldLines([(k, v) for k, v in headers if k.lower() != "content-length"])
        response = ResponseView(status, lines, view)
        self.signer.sign(response, body)
        lines.lines.append(("content-length", str(len(body))))
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in lines.lines]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body, "more_body": False})
