"""X-Road vocabulary shared by the gateway, metaservices and pub/sub: identifiers and errors.

Identifiers follow X-Road: a client (subsystem) is `INSTANCE/memberClass/memberCode/subsystem`,
a service is that plus `/serviceCode` (and optionally `/serviceVersion`); in URLs and headers
each part is percent-encoded UTF-8. Errors on `/r1` are X-Road's JSON `{type, message, detail}`
with the same `type` in the `X-Road-Error` header, so existing X-Road clients understand them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote, unquote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

# X-Road identifier parts: no '/', ':', ';', '%', '\\' or control characters (PR-REST 4.8).
_PART = re.compile(r"^[^/:;%\\\x00-\x1f\x7f]{1,100}$")
PART_PATTERN = _PART.pattern


class BadIdentifier(ValueError):
    """A client or service identifier that X-Road would not accept."""


def _part(raw: str, name: str) -> str:
    value = unquote(raw)
    if not _PART.match(value):
        raise BadIdentifier(f"invalid {name} in identifier: {raw[:100]!r}")
    return value


@dataclass(frozen=True)
class ClientId:
    """A subsystem: INSTANCE/memberClass/memberCode/subsystemCode."""

    instance: str
    member_class: str
    member_code: str
    subsystem_code: str

    @classmethod
    def parse(cls, text: str) -> ClientId:
        """Parse `INSTANCE/CLASS/CODE/SUBSYSTEM` (each part percent-encoded)."""
        parts = text.split("/")
        if len(parts) != 4:
            raise BadIdentifier("a client identifier has four parts: INSTANCE/CLASS/CODE/SUBSYSTEM")
        names = ("instance", "member class", "member code", "subsystem code")
        return cls(*(_part(p, n) for p, n in zip(parts, names, strict=True)))

    def __str__(self) -> str:
        return "/".join(
            quote(p, safe="")
            for p in (self.instance, self.member_class, self.member_code, self.subsystem_code)
        )


@dataclass(frozen=True)
class ServiceId:
    """A service: a provider subsystem plus a service code (and optional version)."""

    provider: ClientId
    service_code: str
    service_version: str | None = None

    def __str__(self) -> str:
        text = f"{self.provider}/{quote(self.service_code, safe='')}"
        return f"{text}/{quote(self.service_version, safe='')}" if self.service_version else text


def split_service_path(path: str) -> tuple[ServiceId, str]:
    """Split `/INSTANCE/CLASS/CODE/SUB/SERVICE[/rest]` into the service id and the rest path.

    Service versions are not used on `/r1` paths in Satu (a new version is a new code).
    """
    parts = path.lstrip("/").split("/", 5)
    if len(parts) < 5:
        raise BadIdentifier(
            "a service identifier has five parts: INSTANCE/CLASS/CODE/SUBSYSTEM/SERVICE"
        )
    provider = ClientId.parse("/".join(parts[:4]))
    service = ServiceId(provider, _part(parts[4], "service code"))
    rest = "/" + parts[5] if len(parts) == 6 else "/"
    return service, rest


# --- Errors ---------------------------------------------------------------------------------

# type -> HTTP status. Client.* are the caller's fault; Server.ClientProxy.* happen in the
# gateway on the consumer's side; Server.ServerProxy.* on the provider's side.
ERROR_STATUS = {
    "Client.BadRequest": 400,
    "Client.InvalidSignature": 400,
    "Client.Unauthorized": 401,
    "Client.AccessDenied": 403,
    "Client.MissingPurpose": 400,
    "Client.MissingUserId": 400,
    "Client.NoLawfulBasis": 403,
    "Client.RateLimited": 429,
    "Client.BodyTooLarge": 413,
    "Server.ClientProxy.UnknownService": 404,
    "Server.ClientProxy.UnknownMember": 404,
    "Server.ClientProxy.InternalError": 500,
    "Server.ServerProxy.ServiceFailed": 502,
    "Server.ServerProxy.ServiceTimeout": 504,
    "Server.ServerProxy.ServiceUnavailable": 503,
    "Server.ServerProxy.InvalidSignature": 502,
    "Server.ServerProxy.MalformedResponse": 502,
}


class XRoadError(Exception):
    """An error answered the X-Road way on `/r1` routes."""

    def __init__(self, type_: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message
        self.status = status or ERROR_STATUS.get(type_, 500)
        self.detail = str(uuid.uuid4())


def xroad_error_response(error: XRoadError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The X-Road REST error answer: `{type, message, detail}` and the `X-Road-Error` header."""
    return JSONResponse(
        {"type": error.type, "message": error.message, "detail": error.detail},
        status_code=error.status,
        headers={**(headers or {}), "X-Road-Error": error.type},
    )


def install_xroad_errors(app: FastAPI) -> None:
    """Answer `XRoadError` raised by any route in X-Road's format."""

    async def _handler(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, XRoadError)
        return xroad_error_response(exc)

    app.add_exception_handler(XRoadError, _handler)
