"""One gateway call as it proceeds: what was received, what was established, how it is logged."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property

from fastapi import Request

from satu.core.db import utcnow
from satu.exchange import signatures as sig
from satu.exchange.backend_http import Message
from satu.exchange.schemas import LogRecordIn, ServiceInfo, SubsystemInfo
from satu.exchange.xroad import BadIdentifier, ClientId, ServiceId, XRoadError

PREFIX = "/r1/"
# Largest body read before the service is known; each service then applies its own limit.
HARD_BODY_LIMIT = 10 * 1024 * 1024


@dataclass
class Call:
    """Everything known about one call as it proceeds."""

    method: str
    target: str  # the raw path + query as received
    url: str  # absolute URL as received (for signatures)
    headers: sig.Fields
    raw_headers: list[tuple[bytes, bytes]]
    rest_path: str = "/"
    query: bytes = b""
    body: bytes = b""
    transaction_id: str = ""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_text: str = ""
    service_text: str = ""
    service_id: ServiceId | None = None
    counted: bool = False  # against the consumer's rate limit
    consumer: SubsystemInfo | None = None
    service: ServiceInfo | None = None
    operation: str = ""
    purpose: str = ""
    nik: str | None = None
    user_id: str | None = None
    basis: str = ""
    outgoing: Message | None = None  # the request to the backend, signed
    started: float = field(default_factory=time.perf_counter)

    @cached_property
    def request_digest(self) -> str:
        """The body's Content-Digest (the body is read whole before this is asked)."""
        return sig.content_digest(self.body)

    @property
    def metric_service(self) -> str:
        return self.service.xroad_id if self.service is not None else "unknown"


def new_call(request: Request, *, request_id: str | None = None) -> Call:
    """The call as received (nothing checked yet); `request_id`: its X-Road-Request-Id."""
    scope = request.scope
    raw_path = scope.get("raw_path") or scope["path"].encode()
    target = raw_path.decode("latin-1")
    query = scope.get("query_string", b"")
    if query:
        target += "?" + query.decode("latin-1")
    host = request.headers.get("host") or "{}:{}".format(*scope.get("server", ("localhost", 80)))
    raw_headers = list(scope["headers"])
    call = Call(
        method=request.method,
        target=target,
        url=f"{scope.get('scheme', 'http')}://{host}{target}",
        headers=sig.Fields.from_raw(raw_headers),
        raw_headers=raw_headers,
        query=query,
        request_id=request_id or str(uuid.uuid4()),
    )
    call.transaction_id = request.headers.get("x-road-id") or str(uuid.uuid4())
    call.client_text = (request.headers.get("x-road-client") or "")[:300]
    raw = (scope.get("raw_path") or b"").decode("latin-1")
    path = raw if raw else scope["path"]
    call.service_text = path[len(PREFIX) :].split("?", 1)[0]
    return call


async def read_body(request: Request, call: Call) -> None:
    """The request body, refused beyond HARD_BODY_LIMIT (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise XRoadError("Client.BadRequest", "Invalid Content-Length.")
        if int(declared) > HARD_BODY_LIMIT:
            raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > HARD_BODY_LIMIT:
            raise _too_large()
        chunks.append(chunk)
    call.body = b"".join(chunks)


def _too_large() -> XRoadError:
    return XRoadError("Client.BodyTooLarge", f"The request body exceeds {HARD_BODY_LIMIT} bytes.")


def request_hash(call: Call) -> str:
    """X-Road-Request-Hash: base64 SHA-512(SHA-512(head) + SHA-512(body)), or SHA-512(head)
    without a body; head = `METHOD SP target LF` then each received `name: value LF`."""
    head = hashlib.sha512()
    head.update(f"{call.method} {call.target}\n".encode("latin-1"))
    for name, value in call.raw_headers:
        head.update(name.lower() + b": " + value + b"\n")
    if not call.body:
        return base64.b64encode(head.digest()).decode()
    both = head.digest() + hashlib.sha512(call.body).digest()
    return base64.b64encode(hashlib.sha512(both).digest()).decode()


def xroad_headers(call: Call) -> dict[str, str]:
    """The X-Road headers of the answer to the consumer (also on errors)."""
    out = {
        "x-road-id": call.transaction_id,
        "x-road-request-id": call.request_id,
        "x-road-request-hash": request_hash(call),
    }
    if call.consumer is not None:
        out["x-road-client"] = call.consumer.xroad_id
    if call.service is not None:
        out["x-road-service"] = call.service.xroad_id
    return out


def log_record(call: Call, *, status: int, outcome: str, response_digest: str) -> LogRecordIn:
    """The transparency log record of a call (answered, refused or failed); `response_digest`:
    the Content-Digest of the answer's body."""
    consumer, service = call.consumer, call.service
    if consumer is None:
        call.client_text = _claimed_client(call.client_text)
    return LogRecordIn(
        logged_at=utcnow(),
        transaction_id=call.transaction_id,
        request_id=call.request_id,
        client_id=consumer.xroad_id if consumer else call.client_text,
        client_agency_id=consumer.agency_id if consumer else "",
        service_id=service.xroad_id if service else safe_text(call.service_text),
        provider_agency_id=service.provider.agency_id if service else "",
        method=call.method,
        operation=call.operation,
        nik=call.nik,
        user_id=call.user_id,
        purpose=call.purpose,
        lawful_basis=call.basis,
        request_digest=call.request_digest,
        response_digest=response_digest,
        status=status,
        outcome=outcome,
    )


def safe_text(text: str) -> str:
    """Printable text of at most 300 characters (for the log)."""
    return "".join(c if c.isprintable() else "?" for c in text)[:300]


def _claimed_client(text: str) -> str:
    try:
        return str(ClientId.parse(text))
    except (BadIdentifier, ValueError):
        return safe_text(text)
