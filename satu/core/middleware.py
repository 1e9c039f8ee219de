"""Pure-ASGI middleware: request ids, access logs, body size limits, security headers."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from satu.core.config import Settings
from satu.core.errors import PROBLEM_JSON, PROBLEM_TYPES, masked_path, problem_type_uri
from satu.core.logging import request_id_var

log = logging.getLogger("satu.access")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def _logged_path(scope: Scope) -> str:
    """The route template when a route matched (no NIKs or tokens), else the masked path."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template or masked_path(scope["path"])


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def incoming_request_id(scope: Scope) -> str | None:
    """The caller's `X-Request-Id` when it is safe to keep (else None)."""
    incoming = _header(scope, b"x-request-id")
    return incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else None


def request_id_for(scope: Scope) -> str:
    """The request's id: a safe incoming `X-Request-Id`, else a new one."""
    return incoming_request_id(scope) or uuid.uuid4().hex


HeaderLines = list[tuple[bytes, bytes]]


def with_request_id(headers: HeaderLines, request_id: str) -> HeaderLines:
    """Response header lines with `X-Request-Id` set to the request's id (any other removed)."""
    lines = [h for h in headers if h[0].lower() != b"x-request-id"]
    lines.append((b"x-request-id", request_id.encode()))
    return lines


def log_request(scope: Scope, status: int, started: float) -> None:
    """The access log line of one request (route template or masked path, never raw ids)."""
    if log.isEnabledFor(logging.INFO):
        log.info(
            "request",
            extra={
                "method": scope["method"],
                "path": _logged_path(scope),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )


class RequestContextMiddleware:
    """Give each request an id (honouring a safe incoming `X-Request-Id`) and log it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = with_request_id(message.get("headers", []), request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log_request(scope, status["code"], started)
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Refuse bodies over the configured limit with 413 problem+json, before reading them whole."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def _limit_for(self, scope: Scope) -> int:
        content_type = (_header(scope, b"content-type") or "").lower()
        if content_type.startswith("multipart/"):
            return self.settings.max_upload_body_bytes
        if content_type.startswith("application/x-www-form-urlencoded"):
            return self.settings.max_form_body_bytes
        return self.settings.max_json_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The exchange gateway (/r1/...) applies each service's own limit, answering X-Road's way.
        if scope["type"] != "http" or scope["path"].startswith("/r1/"):
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope)
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_problem(send, 400, "malformed-request", "Invalid Content-Length.")
                return
            if int(declared) > limit:
                await _send_problem(send, 413, "body-too-large", _too_large(limit))
                return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await _send_problem(send, 413, "body-too-large", _too_large(limit))


class BodyTooLarge(HTTPException):
    """Raised while a streamed body is read past the limit.

    An `HTTPException`, so that FastAPI's body parsing re-raises it (instead of turning it
    into a generic 400) and the error handlers answer 413 problem+json in the request's context.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit))


def _too_large(limit: int) -> str:
    return f"The request body exceeds the limit of {limit} bytes."


async def _send_problem(send: Send, status: int, slug: str, detail: str) -> None:
    body: dict[str, Any] = {
        "type": problem_type_uri(slug),
        "title": PROBLEM_TYPES[slug].title,
        "status": status,
        "detail": detail,
    }
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


# Answers for programs, not browsers (the exchange's service calls): the set the OWASP REST
# Security Cheat Sheet gives for APIs. Nothing is framed, run or cached from them.
API_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


def with_security_headers(
    headers: HeaderLines, security: HeaderLines = SECURITY_HEADERS
) -> HeaderLines:
    """Response header lines plus each of the `security` headers they lack."""
    lines = list(headers)
    present = {key.lower() for key, _ in lines}
    lines.extend(h for h in security if h[0] not in present)
    return lines


class SecurityHeadersMiddleware:
    """Add conservative security headers to every response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(message.get("headers", []))
            await send(message)

        await self.app(scope, receive, send_with_headers)
