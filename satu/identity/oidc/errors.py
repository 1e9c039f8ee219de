"""OAuth 2.0 errors (`error`, `error_description`) and a route class that answers with them.

OAuth endpoints speak OAuth's own JSON error format (RFC 6749 section 5.2), not problem+json:
every client library expects it. Routes on `OAuthRoute` turn an `OAuthError` raised anywhere,
including inside dependencies, into that format.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An OAuth error response; `status` 400 unless the spec says otherwise."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})
        super().__init__(f"{error}: {description}")

    def response(self) -> JSONResponse:
        """The JSON error response."""
        return JSONResponse(
            {"error": self.error, "error_description": self.description},
            status_code=self.status,
            headers={**NO_STORE, **self.headers},
        )


def invalid_client(description: str, *, basic: bool = False) -> OAuthError:
    """401 invalid_client, with a Basic challenge when the client tried Basic auth."""
    headers = {"WWW-Authenticate": 'Basic realm="satu"'} if basic else {}
    return OAuthError("invalid_client", description, status=401, headers=headers)


class BearerError(Exception):
    """A protected-resource error (RFC 6750 / RFC 9449) sent in `WWW-Authenticate`."""

    def __init__(
        self, error: str, description: str, *, status: int = 401, scheme: str = "Bearer"
    ) -> None:
        self.error = error
        self.description = description
        self.status = status
        self.scheme = scheme
        self.extra_headers: dict[str, str] = {}
        super().__init__(description)

    def challenge_headers(self) -> dict[str, str]:
        """The `WWW-Authenticate` challenge, plus any extra header (a `DPoP-Nonce`)."""
        challenge = (
            f'{self.scheme} realm="satu", error="{self.error}", '
            f'error_description="{self.description}"'
        )
        if self.scheme == "DPoP":
            challenge += ', algs="ES256 PS256 RS256 EdDSA"'
        return {"WWW-Authenticate": challenge, **self.extra_headers}

    def response(self) -> JSONResponse:
        """The error response with its challenge."""
        return JSONResponse(
            {"error": self.error, "error_description": self.description},
            status_code=self.status,
            headers={**NO_STORE, **self.challenge_headers()},
        )


class OAuthRoute(APIRoute):
    """An APIRoute whose OAuth and bearer errors become OAuth JSON error responses."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except (OAuthError, BearerError) as error:
                return error.response()

        return handle
