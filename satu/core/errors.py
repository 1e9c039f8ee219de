"""RFC 9457 problem details for every API error, friendly pages for people.

A problem's `type` is stable: `{public_url}/problems/{slug}`, and that URL serves a page
explaining the problem. Unexpected errors are logged with the request id and answered with
a generic 500 that never carries a stack trace.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from satu.core.config import get_settings

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    """A documented kind of problem."""

    slug: str
    status: int
    title: str
    title_id: str


_TYPES = [
    ProblemType("malformed-request", 400, "Malformed request", "Permintaan tidak valid"),
    ProblemType("unauthorized", 401, "Authentication required", "Perlu masuk terlebih dahulu"),
    ProblemType("forbidden", 403, "Forbidden", "Akses ditolak"),
    ProblemType("not-found", 404, "Not found", "Tidak ditemukan"),
    ProblemType("method-not-allowed", 405, "Method not allowed", "Metode tidak diizinkan"),
    ProblemType("not-acceptable", 406, "Not acceptable", "Format tidak tersedia"),
    ProblemType("conflict", 409, "Conflict", "Konflik data"),
    ProblemType("body-too-large", 413, "Request body too large", "Isi permintaan terlalu besar"),
    ProblemType(
        "unsupported-media-type", 415, "Unsupported media type", "Jenis konten tidak didukung"
    ),
    ProblemType("validation-error", 422, "Invalid input", "Masukan tidak valid"),
    ProblemType("invalid-nik", 422, "Invalid NIK", "NIK tidak valid"),
    ProblemType("rate-limited", 429, "Too many requests", "Terlalu banyak permintaan"),
    ProblemType("internal-error", 500, "Internal server error", "Terjadi kesalahan di server"),
    ProblemType("service-unavailable", 503, "Service unavailable", "Layanan sedang tidak tersedia"),
]
PROBLEM_TYPES: dict[str, ProblemType] = {t.slug: t for t in _TYPES}
_BY_STATUS: dict[int, ProblemType] = {}
for _t in _TYPES:
    _BY_STATUS.setdefault(_t.status, _t)


_NIK_RUN = re.compile(r"(?<!\d)(\d{6})\d{10}(?!\d)")
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_-]{24,}")


def masked_path(path: str) -> str:
    """A path safe to log or echo: 16-digit runs (NIKs) masked, long opaque tokens cut."""
    path = _NIK_RUN.sub(lambda m: m.group(1) + "**********", path)
    return _LONG_TOKEN.sub(lambda m: m.group(0)[:6] + "…", path)


def problem_type_uri(slug: str) -> str:
    """The stable, dereferenceable URI of a problem type."""
    return f"{get_settings().public_url.rstrip('/')}/problems/{slug}"


class Problem(Exception):
    """Raise to answer with an RFC 9457 problem document."""

    def __init__(
        self,
        slug: str,
        detail: str | None = None,
        *,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        kind = PROBLEM_TYPES[slug]
        self.slug = slug
        self.status = status or kind.status
        self.title = title or kind.title
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions
        super().__init__(detail or self.title)

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": problem_type_uri(self.slug),
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


def wants_html(request: Request) -> bool:
    """True for a person's browser on a page URL; APIs always get problem+json."""
    path = request.url.path
    if path.startswith(("/api/", "/metrics", "/healthz", "/readyz")):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def problem_response(request: Request, problem: Problem) -> Response:
    """Render a problem for the client: JSON for programs, a page for people."""
    request_id = getattr(request.state, "request_id", None)
    headers = dict(problem.headers)
    if wants_html(request):
        renderer = getattr(request.app.state, "render_error_page", None)
        if renderer is not None:
            return renderer(request, problem, headers)
    body = problem.to_dict(instance=masked_path(request.url.path))
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def _from_http_exception(exc: StarletteHTTPException) -> Problem:
    kind = _BY_STATUS.get(exc.status_code)
    slug = (
        kind.slug if kind else ("internal-error" if exc.status_code >= 500 else "malformed-request")
    )
    detail = (
        exc.detail if isinstance(exc.detail, str) and exc.detail != (kind and kind.title) else None
    )
    return Problem(slug, detail, status=exc.status_code, headers=dict(exc.headers or {}))


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        errors.append(
            {"location": loc, "message": err.get("msg", "invalid"), "type": err.get("type")}
        )
    return errors


def _is_body_decode_error(exc: RequestValidationError) -> bool:
    return any(err.get("type") == "json_invalid" for err in exc.errors())


def _is_unsupported_body(exc: RequestValidationError) -> bool:
    """A JSON route got a body it left unparsed because its content type is not JSON."""
    body = getattr(exc, "body", None)
    return isinstance(body, bytes | bytearray) and bool(body)


def _log_unexpected(request: Request) -> None:
    log.exception(
        "unhandled error",
        extra={
            "path": masked_path(request.url.path),
            "method": request.method,
            "request_id": getattr(request.state, "request_id", None),
        },
    )


def _internal_error(request: Request) -> Problem:
    request_id = getattr(request.state, "request_id", None)
    return Problem("internal-error", headers={"X-Request-Id": request_id} if request_id else None)


class UnexpectedErrorMiddleware:
    """Innermost middleware: answer an unhandled exception with a 500 problem.

    Starlette's own last-resort handler runs outside every middleware, after the request id
    and locale are gone and without security headers; catching here keeps all of them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            request = Request(scope, receive)
            _log_unexpected(request)
            response = problem_response(request, Problem("internal-error"))
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Make every error an RFC 9457 problem (or a friendly page).

    Call before adding other middleware: the catch-all added here must be the innermost.
    """

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return problem_response(request, _from_http_exception(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if _is_body_decode_error(exc):
            problem = Problem("malformed-request", "The request body is not valid UTF-8 JSON.")
        elif _is_unsupported_body(exc):
            problem = Problem(
                "unsupported-media-type",
                "Send the request body as JSON with Content-Type: application/json.",
            )
        else:
            problem = Problem(
                "validation-error",
                "One or more fields are invalid.",
                errors=_validation_errors(exc),
            )
        return problem_response(request, problem)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        _log_unexpected(request)
        return problem_response(request, _internal_error(request))

    app.add_middleware(UnexpectedErrorMiddleware)
