"""The exchange gateway: `{METHOD} /r1/{serviceId}[/path][?query]`, X-Road's message protocol
for REST, with Satu's purpose, data subject, lawful basis, signatures and transparency log.

One call:
 1. read the body (bounded), then in one short transaction: authenticate the consumer
    subsystem (bearer token + X-Road-Client), rate-limit it, resolve the service and the
    operation, check the access right, the purpose (`X-Road-Purpose`) and, for personal data,
    the resident (`X-Road-UserId: ID<NIK>`) and a lawful basis (consent or mandate); verify the
    consumer's own signature when its subsystem requires one (or it sent one), remembering
    the nonce; sign the request to the backend with the consumer member's hosted key;
 2. forward it (circuit breaker, timeouts, size limits, safe retries) without holding a
    database connection;
 3. in a second transaction: verify the provider's signature (when its subsystem requires
    one or it sent one), sign the answer with the provider member's hosted key, append the
    exchange to the transparency log and COMMIT; only then answer.
Every refusal and failure is logged too, with the X-Road error type as outcome, and answered
as X-Road's `{type, message, detail}` with `X-Road-Error`.

The gateway manages its own two transactions (not `DbSession`), so that no database
connection is held while the provider works.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from satu.core.auth import access_rule
from satu.core.db import transaction, utcnow
from satu.exchange import consumer_auth, keys, lawful, registry, transparency
from satu.exchange import signatures as sig
from satu.exchange.breaker import CircuitBreakers, ConsumerRateLimits, GatewayMetrics
from satu.exchange.forwarding import (
    BackendAnswer,
    answer_headers,
    backend_url,
    check_answer,
    forward,
    forwarded_headers,
)
from satu.exchange.schemas import KeyInfo, LogRecordIn, ServiceInfo, SubsystemInfo
from satu.exchange.xroad import (
    BadIdentifier,
    ClientId,
    XRoadError,
    split_service_path,
    xroad_error_response,
)

log = logging.getLogger(__name__)

PREFIX = "/r1/"
# Largest body read before the service is known; each service then applies its own limit.
HARD_BODY_LIMIT = 10 * 1024 * 1024
CACHE_SECONDS = 5.0  # registry lookups (services, access rights, public keys)
HOSTED_KEY_SECONDS = 300.0  # hosted signing keys, decrypted once per worker
_XROAD_ID = re.compile(r"^[\x21-\x7e]{1,100}$")
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

router = APIRouter(tags=["exchange gateway"])


@access_rule("exchange consumer")
def exchange_consumer() -> None:
    """A consumer subsystem: bearer access token (client_credentials) and X-Road-Client,
    checked inside the gateway so that refusals are logged too."""


# --- per-app state -------------------------------------------------------------------------


class _TTLCache:
    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._data: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        hit = self._data.get(key)
        if hit is None or hit[0] < time.monotonic():
            return _MISS
        return hit[1]

    def put(self, key: Any, value: Any) -> Any:
        if len(self._data) >= self.size:
            self._data.clear()
        self._data[key] = (time.monotonic() + self.seconds, value)
        return value

    def clear(self) -> None:
        self._data.clear()


_MISS = object()


class GatewayState:
    """What the gateway keeps per app: breakers, limits, metrics, caches."""

    def __init__(self, app: Any) -> None:
        self.breakers = CircuitBreakers()
        self.limits = ConsumerRateLimits(app.state.rate_limits.storage_uri)
        self.metrics = GatewayMetrics(app.state.metrics.registry)
        self.cache = _TTLCache(CACHE_SECONDS)
        self.hosted = _TTLCache(HOSTED_KEY_SECONDS, size=5_000)


def gateway_state(app: Any) -> GatewayState:
    """The gateway's state on this app (created on first use)."""
    state = getattr(app.state, "exchange_gateway", None)
    if state is None:
        state = app.state.exchange_gateway = GatewayState(app)
    return state


# --- one call -------------------------------------------------------------------------------


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
    consumer: SubsystemInfo | None = None
    service: ServiceInfo | None = None
    operation: str = ""
    purpose: str = ""
    nik: str | None = None
    user_id: str | None = None
    basis: str = ""
    outgoing: httpx.Request | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def metric_service(self) -> str:
        return self.service.xroad_id if self.service is not None else "unknown"


def _client_view(request: Request) -> tuple[str, str]:
    scope = request.scope
    raw_path = scope.get("raw_path") or scope["path"].encode()
    target = raw_path.decode("latin-1")
    query = scope.get("query_string", b"")
    if query:
        target += "?" + query.decode("latin-1")
    host = request.headers.get("host") or "{}:{}".format(*scope.get("server", ("localhost", 80)))
    return target, f"{scope.get('scheme', 'http')}://{host}{target}"


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


async def _read_body(request: Request, call: Call) -> None:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise XRoadError("Client.BadRequest", "Invalid Content-Length.")
        if int(declared) > HARD_BODY_LIMIT:
            raise XRoadError(
                "Client.BodyTooLarge", f"The request body exceeds {HARD_BODY_LIMIT} bytes."
            )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > HARD_BODY_LIMIT:
            raise XRoadError(
                "Client.BodyTooLarge", f"The request body exceeds {HARD_BODY_LIMIT} bytes."
            )
        chunks.append(chunk)
    call.body = b"".join(chunks)


@router.api_route("/r1/{path:path}", methods=_METHODS, include_in_schema=False)
async def gateway(
    request: Request, path: str, _access: None = Depends(exchange_consumer)
) -> Response:
    """Carry one X-Road REST call to the provider's backend and its answer back."""
    app = request.app
    state = gateway_state(app)
    target, url = _client_view(request)
    call = Call(
        method=request.method,
        target=target,
        url=url,
        headers=sig.Fields.from_raw(request.scope["headers"]),
        raw_headers=list(request.scope["headers"]),
    )
    call.transaction_id = request.headers.get("x-road-id") or str(uuid.uuid4())
    call.client_text = (request.headers.get("x-road-client") or "")[:300]
    raw_path = (request.scope.get("raw_path") or b"").decode("latin-1")
    call.service_text = raw_path[len(PREFIX) :].split("?", 1)[0] if raw_path else path
    call.query = request.scope.get("query_string", b"")
    factory = app.state.sessionmaker
    try:
        await _read_body(request, call)
        await run_in_threadpool(_prepare, factory, state, request, call)
        if call.outgoing is None:
            raise XRoadError("Server.ClientProxy.InternalError", "Nothing to forward.")
        answer = await _forward(state, call)
        return await run_in_threadpool(_finish, factory, state, call, answer)
    except XRoadError as error:
        return await run_in_threadpool(_fail, factory, state, call, error)


def _prepare(factory: Any, state: GatewayState, request: Request, call: Call) -> None:
    """Phase 1: every check, the consumer's signature, the signed request to the backend."""
    with transaction(factory) as session:
        _check_call(session, state, request, call)


def _check_call(session: Session, state: GatewayState, request: Request, call: Call) -> None:
    if not _XROAD_ID.match(call.transaction_id):
        call.transaction_id = str(uuid.uuid4())
        raise XRoadError("Client.BadRequest", "X-Road-Id must be 1-100 visible ASCII characters.")
    try:
        service_id, call.rest_path = split_service_path(call.service_text)
    except BadIdentifier as exc:
        raise XRoadError("Client.BadRequest", f"Malformed service identifier: {exc}") from None
    call.service_text = str(service_id)
    consumer = _authenticate(state, session, request)
    call.consumer = consumer
    call.client_text = consumer.xroad_id
    retry = state.limits.hit(consumer.xroad_id, consumer.rate_limit_per_minute)
    if retry is not None:
        raise XRoadError(
            "Client.RateLimited", f"Too many calls from {consumer.xroad_id}; retry in {retry} s."
        )
    service = _cached(state, ("service", str(service_id)), session, _resolve_service, service_id)
    if service is None or not service.enabled or not service.provider.enabled:
        raise XRoadError(
            "Server.ClientProxy.UnknownService", f"No such service (or disabled): {service_id}"
        )
    call.service = service
    operation = registry.match_operation(service=service, method=call.method, path=call.rest_path)
    call.operation = (
        f"{operation.method} {operation.path}" if operation else f"{call.method} {call.rest_path}"
    )[:300]
    if operation is None and service.operations:
        raise XRoadError(
            "Client.AccessDenied",
            f"{call.method} {call.rest_path[:200]} is not an operation this service exposes.",
        )
    allowed = _cached(
        state,
        ("allowed", consumer.id, service.id, call.operation),
        session,
        lambda s, _x: registry.is_allowed(
            session=s, client_subsystem_id=consumer.id, service_id=service.id, operation=operation
        ),
        None,
    )
    if not allowed:
        raise XRoadError(
            "Client.AccessDenied",
            f"{consumer.xroad_id} has no access right to {service.xroad_id} ({call.operation}).",
        )
    call.purpose = lawful.check_purpose(request.headers.get(lawful.PURPOSE_HEADER))
    user_id = request.headers.get("x-road-userid")
    if service.personal_data:
        call.nik = lawful.subject_nik(session=session, user_id=user_id)
        basis = lawful.lawful_basis(
            session=session,
            service=service,
            consumer=consumer,
            nik=call.nik,
            purpose=call.purpose,
            find_mandate=lambda **kw: _cached(
                state, ("mandate", *sorted(kw.items())), session, _mandate, kw
            ),
        )
        call.basis = str(basis)
    else:
        call.user_id = (user_id or "")[:100] or None
    if len(call.body) > service.max_body_bytes:
        raise XRoadError(
            "Client.BodyTooLarge",
            f"The request body exceeds this service's limit of {service.max_body_bytes} bytes.",
        )
    if consumer.require_signature or "signature-input" in call.headers:
        try:
            verified = sig.verify_request(
                method=call.method,
                url=call.url,
                headers=call.headers,
                body=call.body,
                lookup=lambda kid: _public_key(state, session, kid),
                member=(consumer.member_class, consumer.member_code),
                subsystem_id=consumer.id,
            )
            sig.remember_nonce(session=session, verified=verified)
        except sig.SignatureError as exc:
            raise XRoadError(
                "Client.InvalidSignature", f"Request signature refused: {exc.reason}"
            ) from None
    call.outgoing = _outgoing(session, state, call)


def _authenticate(state: GatewayState, session: Session, request: Request) -> SubsystemInfo:
    """The consumer; a token + X-Road-Client pair that passed stays trusted for CACHE_SECONDS
    (so a revoked token or disabled subsystem is refused within that time)."""
    authorization = request.headers.get("authorization") or ""
    claimed = request.headers.get("x-road-client") or ""
    key = ("consumer", hashlib.sha256(f"{authorization}\n{claimed}".encode()).digest())
    consumer = state.cache.get(key)
    if consumer is _MISS:
        consumer = consumer_auth.authenticate_consumer(session=session, request=request)
        state.cache.put(key, consumer)
    return consumer


def _mandate(session: Session, kw: dict[str, Any]) -> Any:
    return registry.find_mandate(session=session, **kw)


def _resolve_service(session: Session, service_id: Any) -> ServiceInfo | None:
    return registry.resolve_service(session=session, service=service_id)


def _cached(state: GatewayState, key: Any, session: Session, load: Any, arg: Any) -> Any:
    value = state.cache.get(key)
    if value is _MISS:
        value = state.cache.put(key, load(session, arg))
    return value


def _public_key(state: GatewayState, session: Session, key_id: str) -> KeyInfo | None:
    if not isinstance(key_id, str) or len(key_id) > 100:
        return None
    return _cached(
        state, ("key", key_id), session, lambda s, k: keys.public_key(session=s, key_id=k), key_id
    )


def _hosted_key(
    state: GatewayState, session: Session, member_class: str, member_code: str
) -> tuple[str, Ed25519PrivateKey]:
    key = (member_class, member_code)
    value = state.hosted.get(key)
    if value is _MISS:
        value = state.hosted.put(
            key,
            keys.signing_key(session=session, member_class=member_class, member_code=member_code),
        )
    return value


def _outgoing(session: Session, state: GatewayState, call: Call) -> httpx.Request:
    """The request to the backend, signed with the consumer member's hosted key."""
    assert call.consumer is not None and call.service is not None
    headers = httpx.Headers(forwarded_headers(call.raw_headers))
    headers["x-road-client"] = call.consumer.xroad_id
    headers["x-road-service"] = call.service.xroad_id
    headers["x-road-id"] = call.transaction_id
    headers["x-road-request-id"] = call.request_id
    headers["x-road-purpose"] = call.purpose
    if "accept-encoding" not in headers:
        headers["accept-encoding"] = "identity"
    url = backend_url(call.service.base_url, call.rest_path, call.query)
    try:
        outgoing = httpx.Request(call.method, url, headers=headers, content=call.body)
    except (httpx.InvalidURL, ValueError) as exc:
        raise XRoadError("Client.BadRequest", f"Cannot forward this request: {exc}") from None
    key_id, private_key = _hosted_key(
        state, session, call.consumer.member_class, call.consumer.member_code
    )
    sig.sign_request(outgoing, key_id=key_id, private_key=private_key, body=call.body)
    return outgoing


async def _forward(state: GatewayState, call: Call) -> BackendAnswer:
    assert call.service is not None and call.outgoing is not None
    key = call.service.xroad_id
    if not state.breakers.allow(key):
        state.metrics.breaker_open.labels(key).set(1)
        raise XRoadError(
            "Server.ServerProxy.ServiceUnavailable",
            f"The provider of {key} is failing; calls are paused for a while (circuit open).",
        )
    try:
        answer = await forward(
            call.outgoing,
            timeout_ms=call.service.timeout_ms,
            max_body_bytes=call.service.max_body_bytes,
            service=key,
        )
    except XRoadError as error:
        if error.type in (
            "Server.ServerProxy.ServiceFailed",
            "Server.ServerProxy.ServiceTimeout",
        ):
            state.breakers.failure(key)
        else:
            state.breakers.release(key)
        raise
    if answer.status >= 500:
        state.breakers.failure(key)
    else:
        state.breakers.success(key)
    state.metrics.breaker_open.labels(key).set(0)
    state.metrics.provider_latency.labels(key).observe(answer.seconds)
    return answer


def _finish(factory: Any, state: GatewayState, call: Call, answer: BackendAnswer) -> Response:
    """Phase 3: check and sign the answer, log the exchange, commit, then answer."""
    assert call.service is not None and call.consumer is not None
    provider = call.service.provider
    check_answer(answer, service=call.service.xroad_id)
    with transaction(factory) as session:
        if provider.require_signature or "signature-input" in answer.headers:
            try:
                sig.verify_response(
                    status=answer.status,
                    headers=answer.headers,
                    body=answer.body,
                    lookup=lambda kid: _public_key(state, session, kid),
                    member=(provider.member_class, provider.member_code),
                    subsystem_id=provider.id,
                )
            except sig.SignatureError as exc:
                raise XRoadError(
                    "Server.ServerProxy.InvalidSignature",
                    f"The provider's answer signature is refused: {exc.reason}",
                ) from None
        headers = httpx.Headers(answer_headers(answer.headers))
        headers.update(_xroad_headers(call))
        key_id, private_key = _hosted_key(
            state, session, provider.member_class, provider.member_code
        )
        sig.sign_response(
            headers, status=answer.status, key_id=key_id, private_key=private_key, body=answer.body
        )
        _append(session, call, status=answer.status, outcome="ok", response_body=answer.body)
    state.metrics.observe(
        service=call.metric_service, outcome="ok", seconds=time.perf_counter() - call.started
    )
    return Response(
        content=answer.body, status_code=answer.status, headers=dict(headers.multi_items())
    )


def _xroad_headers(call: Call) -> dict[str, str]:
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


def _append(
    session: Session, call: Call, *, status: int, outcome: str, response_body: bytes
) -> None:
    consumer, service = call.consumer, call.service
    record = LogRecordIn(
        logged_at=utcnow(),
        transaction_id=call.transaction_id,
        request_id=call.request_id,
        client_id=consumer.xroad_id if consumer else _safe(call.client_text),
        client_agency_id=consumer.agency_id if consumer else "",
        service_id=service.xroad_id if service else _safe(call.service_text),
        provider_agency_id=service.provider.agency_id if service else "",
        method=call.method,
        operation=call.operation,
        nik=call.nik,
        user_id=call.user_id,
        purpose=call.purpose,
        lawful_basis=call.basis,
        request_digest=sig.content_digest(call.body),
        response_digest=sig.content_digest(response_body),
        status=status,
        outcome=outcome,
    )
    transparency.append(session=session, record=record)


def _safe(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:300]


def _fail(factory: Any, state: GatewayState, call: Call, error: XRoadError) -> Response:
    """Log the refused or failed call (committed), then answer X-Road's error."""
    if call.consumer is None:
        call.client_text = _claimed_client(call.client_text)
    response = xroad_error_response(error, headers=_xroad_headers(call))
    try:
        with transaction(factory) as session:
            _append(
                session, call, status=error.status, outcome=error.type, response_body=response.body
            )
    except Exception:
        log.exception("could not log a failed exchange call")
        error = XRoadError(
            "Server.ClientProxy.InternalError", "The exchange log is unavailable; try again."
        )
        response = xroad_error_response(error, headers=_xroad_headers(call))
    state.metrics.observe(
        service=call.metric_service, outcome=error.type, seconds=time.perf_counter() - call.started
    )
    return response


def _claimed_client(text: str) -> str:
    try:
        return str(ClientId.parse(text))
    except (BadIdentifier, ValueError):
        return _safe(text)
