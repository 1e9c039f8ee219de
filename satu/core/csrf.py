"""CSRF protection for every form and every cookie-authenticated API call.

A signed double-submit token plus an Origin check. A page that shows a form puts
`csrf_token(request)` in a hidden field named `csrf_token` (or `{{ csrf_input }}` from
`csrf_input(request)`). The token is the browser's random CSRF cookie signed with the server's
secret (HMAC, itsdangerous) and timestamped. A form route declares `Depends(verify_csrf)`, which
refuses with 403 unless the submitted token is valid, fresh, and signs exactly the cookie this
browser sent, and unless any `Origin` header names this site. The cookie is `__Host-` prefixed,
Secure, HttpOnly and SameSite=Lax over HTTPS; `CSRFCookieMiddleware` sets it on the response of
the page that needed one.

JSON APIs called with the browser's session cookie send the token in the `X-CSRF-Token` header
(`GET /api/v1/csrf` gives one and sets the cookie). `require_csrf` is the check for them: the
code that turns a session cookie into a signed-in person (identity's `current_login`) calls it
on every unsafe request, so every access rule built on the session needs the token, while
callers authenticated by a bearer token never do. A form token already accepted by
`verify_csrf` on the same request counts.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Depends, Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from markupsafe import Markup, escape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from satu.core.auth import public
from satu.core.config import Settings, get_settings
from satu.core.errors import Problem

FIELD = "csrf_token"
HEADER = "x-csrf-token"
HEADER_NAME = "X-CSRF-Token"
ENDPOINT = "/api/v1/csrf"
MAX_AGE_SECONDS = 8 * 3600
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_RAW = re.compile(r"^[A-Za-z0-9_-]{43}$")
_STATE_NEW = "csrf_new_cookie"
_STATE_SECURE = "csrf_secure"
_STATE_VERIFIED = "csrf_verified"

router = APIRouter(tags=["csrf"])


def app_secret(settings: Settings) -> bytes:
    """The signing secret: `SATU_SECRET_KEY`, else a random key kept in `var_dir`."""
    if settings.secret_key:
        return settings.secret_key.encode()
    return _file_secret(settings.var_dir.resolve())


@lru_cache(maxsize=4)
def _file_secret(var_dir: Path) -> bytes:
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def _settings(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or get_settings()


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app_secret(_settings(request)), salt="satu.csrf")


def is_secure(request: Request) -> bool:
    """True when the request came over HTTPS (uvicorn applies trusted proxy headers)."""
    return request.url.scheme == "https"


def cookie_name(secure: bool) -> str:
    """`__Host-satu_csrf` over HTTPS, `satu_csrf` on plain-HTTP development servers."""
    return "__Host-satu_csrf" if secure else "satu_csrf"


def _cookie_value(request: Request) -> str | None:
    value = request.cookies.get(cookie_name(is_secure(request)))
    return value if value and _RAW.match(value) else None


def csrf_token(request: Request) -> str:
    """A token for this browser's forms (sets the CSRF cookie when it has none)."""
    raw = getattr(request.state, _STATE_NEW, None) or _cookie_value(request)
    if raw is None:
        raw = secrets.token_urlsafe(32)
        setattr(request.state, _STATE_NEW, raw)
        setattr(request.state, _STATE_SECURE, is_secure(request))
    return str(_serializer(request).dumps(raw))


def csrf_input(request: Request) -> Markup:
    """The hidden form field carrying the CSRF token."""
    value = escape(csrf_token(request))
    return Markup(f'<input type="hidden" name="{FIELD}" value="{value}">')  # noqa: S704


def _same_origin(request: Request, origin: str) -> bool:
    own = f"{request.url.scheme}://{request.url.netloc}".lower()
    public = _settings(request).public_url.rstrip("/").lower()
    return origin.lower() in (own, public)


def check_csrf(request: Request, token: str | None, *, header: bool = False) -> None:
    """Raise 403 unless `token` is a fresh signature of this browser's CSRF cookie.

    `header` says the token came in the `X-CSRF-Token` header (API calls): the refusal then
    names the header and where to get a token instead of talking about a form.
    """
    what = "request" if header else "form submission"
    origin = request.headers.get("origin")
    if origin and origin != "null" and not _same_origin(request, origin):
        raise Problem("forbidden", f"Cross-site {what} refused (Origin mismatch).")
    if origin == "null":
        raise Problem("forbidden", f"Cross-site {what} refused (opaque Origin).")
    raw = _cookie_value(request)
    if raw is None or not token:
        raise Problem("forbidden", _missing(header=header, token=bool(token)))
    try:
        signed = _serializer(request).loads(token, max_age=MAX_AGE_SECONDS)
    except SignatureExpired as exc:
        raise Problem("forbidden", _expired(header=header)) from exc
    except BadSignature as exc:
        raise Problem("forbidden", _foreign(header=header)) from exc
    if not isinstance(signed, str) or not hmac.compare_digest(signed, raw):
        raise Problem("forbidden", _foreign(header=header))
    setattr(request.state, _STATE_VERIFIED, True)


def _missing(*, header: bool, token: bool) -> str:
    if not header:
        return "The form has expired or was not sent from this site."
    if token:
        return (
            f"The {HEADER_NAME} header needs this browser's CSRF cookie; "
            f"GET {ENDPOINT} sets it and gives a token."
        )
    return (
        f"A request signed in with the session cookie needs the {HEADER_NAME} header; "
        f"GET {ENDPOINT} gives a token."
    )


def _expired(*, header: bool) -> str:
    if not header:
        return "The form has expired; reload the page."
    return f"The {HEADER_NAME} header has expired; GET {ENDPOINT} gives a new token."


def _foreign(*, header: bool) -> str:
    if not header:
        return "The form was not sent from this site."
    return (
        f"The {HEADER_NAME} header is not a token for this browser's CSRF cookie; "
        f"GET {ENDPOINT} gives one."
    )


def require_csrf(request: Request) -> None:
    """Refuse an unsafe cookie-authenticated request without a valid `X-CSRF-Token` header.

    Safe methods pass, and so does a request whose form token `verify_csrf` already accepted.
    """
    if request.method in _SAFE_METHODS or getattr(request.state, _STATE_VERIFIED, False):
        return
    check_csrf(request, request.headers.get(HEADER), header=True)


async def verify_csrf(request: Request) -> None:
    """FastAPI dependency for form routes: refuse unsafe requests without a valid token."""
    if request.method in _SAFE_METHODS:
        return
    token = request.headers.get(HEADER)
    if token is not None:
        check_csrf(request, token, header=True)
        return
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(FIELD)
        token = value if isinstance(value, str) else None
    check_csrf(request, token)


@router.get(ENDPOINT, dependencies=[Depends(public)])
def api_csrf_token(request: Request, response: Response) -> dict[str, str]:
    """A CSRF token for API calls made with the session cookie (sets the CSRF cookie too)."""
    response.headers["Cache-Control"] = "no-store"
    return {"csrf_token": csrf_token(request), "header": HEADER_NAME}


class CSRFCookieMiddleware:
    """Set the CSRF cookie on responses whose page created one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_cookie(message: Message) -> None:
            raw = state.get(_STATE_NEW)
            if raw and message["type"] == "http.response.start":
                secure = bool(state.get(_STATE_SECURE))
                cookie = f"{cookie_name(secure)}={raw}; Path=/; HttpOnly; SameSite=Lax"
                if secure:
                    cookie += "; Secure"
                message["headers"] = [
                    *message.get("headers", []),
                    (b"set-cookie", cookie.encode("latin-1")),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cookie)
