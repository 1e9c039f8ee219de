"""The exchange gateway: `{METHOD} /r1/{serviceId}[/path][?query]`, X-Road's message protocol
for REST, with Satu's purpose, data subject, lawful basis, signatures and transparency log.

One call:
 1. read the body (bounded), then in one short transaction (`gateway_checks.check_call`):
    authenticate the consumer subsystem (bearer token + X-Road-Client), rate-limit it, resolve
    the service and the operation, check the access right, the purpose (`X-Road-Purpose`) and,
    for personal data, the resident (`X-Road-UserId: ID<NIK>`) and a lawful basis (consent or
    mandate); verify the consumer's own signature when its subsystem requires one (or it sent
    one), remembering the nonce; sign the request to the backend with the consumer member's
    hosted key;
 2. forward it (circuit breaker, timeouts, size limits, safe retries) without holding a
    database connection;
 3. verify the provider's signature (when its subsystem requires one or it sent one), check
    that the answer echoes this call's X-Road-Id and X-Road-Request-Id, sign the answer with
    the provider member's hosted key;
 4. append the exchange to the transparency log and COMMIT (group commit with the calls
    ending at the same time: `gateway_log.py`); only then answer.
Every refusal and failure is logged too, with the X-Road error type as outcome, and answered
as X-Road's `{type, message, detail}` with `X-Road-Error`.

The gateway manages its own short transactions (not `DbSession`), so that no database
connection is held while the provider works; in steady state phases 1 and 3 run from caches on
the event loop, and phase 4 shares one log transaction with the calls committed alongside.

`GatewayDispatch` is the outermost layer of the app, outside FastAPI's and Starlette's own
layers too (`SatuApp.build_middleware_stack`): a service call goes straight to the gateway,
past FastAPI's routing (hundreds of page and API routes) and the page middleware (locale, CSRF
cookies, body limits), which it does not need; it keeps the request id, the access log and
security headers (the API set: answers for programs), set on the answer itself rather than by
wrapping layers. The /r1 metaservices (`listMethods`, `allowedMethods`, `getOpenAPI`) and every
other path go on to the app.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from satu.core.auth import access_rule
from satu.core.db import transaction
from satu.core.logging import request_id_var
from satu.core.middleware import (
    API_SECURITY_HEADERS,
    incoming_request_id,
    log_request,
    with_request_id,
    with_security_headers,
)
from satu.exchange import metaservices, pubsub_api
from satu.exchange import signatures as sig
from satu.exchange.forwarding import BackendAnswer, answer_headers, check_answer, forward
from satu.exchange.gateway_call import (
    PREFIX,
    Call,
    log_record,
    new_call,
    read_body,
    xroad_headers,
)
from satu.exchange.gateway_checks import check_call
from satu.exchange.gateway_state import GatewayState, NeedsDatabase, gateway_state
from satu.exchange.schemas import SubsystemInfo
from satu.exchange.xroad import XRoadError, xroad_error_response

log = logging.getLogger(__name__)
_T = TypeVar("_T")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BREAKER_FAILURES = ("Server.ServerProxy.ServiceFailed", "Server.ServerProxy.ServiceTimeout")


@access_rule("exchange consumer")
def exchange_consumer() -> None:
    """A consumer subsystem: bearer access token (client_credentials) and X-Road-Client,
    checked inside the gateway so that refusals are logged too."""


class _AppPaths:
    """The app's own routes under /r1 (metaservices, pub/sub rooms): a call that one of them
    takes (path and method) is not a service call, as when the gateway was the last route."""

    def __init__(self, routers: tuple[APIRouter, ...]) -> None:
        routes = [
            route
            for router in routers
            for route in router.routes
            if isinstance(route, APIRoute) and route.path.startswith(PREFIX)
        ]
        self.routes = [(route.path_regex, route.methods) for route in routes]
        # The segment after the client or room id (`listMethods`, `api`, `pub`, ...): a
        # cheap first test before the routes' own patterns.
        self.words = frozenset(route.path.split("/", 7)[6] for route in routes)

    def take(self, path: str, method: str) -> bool:
        """Whether one of the app's /r1 routes serves `method path`."""
        parts = path.split("/", 7)
        if len(parts) < 7 or parts[6] not in self.words:
            return False
        return any(regex.match(path) and method in methods for regex, methods in self.routes)


class GatewayDispatch:
    """The app's outermost layer: service calls to the gateway, the rest to the app."""

    access = exchange_consumer  # the access rule of every call it dispatches

    def __init__(self, app: ASGIApp, owner: Any) -> None:
        self.app = app
        self.owner = owner  # the FastAPI app whose state (settings, database) the gateway uses
        self.app_paths = _AppPaths((metaservices.router, pubsub_api.router))

    def is_service_call(self, scope: Scope) -> bool:
        """An X-Road service call: /r1/..., in a method the gateway carries, that none of the
        app's own /r1 routes takes."""
        return (
            scope["type"] == "http"
            and scope["path"].startswith(PREFIX)
            and scope["method"] in METHODS
            and not self.app_paths.take(scope["path"], scope["method"])
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.is_service_call(scope):
            await self._serve(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One service call with what the app's middleware gives every request: a request id
        for the logs, the security headers and the access log line. The call's
        X-Road-Request-Id is its request id, unless the consumer sent an `X-Request-Id` of its
        own: that one is logged and echoed (the answer carries no other)."""
        xroad_request_id = str(uuid.uuid4())
        incoming = incoming_request_id(scope)
        request_id = incoming or xroad_request_id
        scope.setdefault("state", {})["request_id"] = request_id
        scope["app"] = self.owner
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        try:
            response = await gateway(Request(scope, receive), request_id=xroad_request_id)
            status = response.status_code
            headers = response.raw_headers
            if incoming is not None:
                headers = with_request_id(headers, incoming)
            response.raw_headers = with_security_headers(headers, API_SECURITY_HEADERS)
            await response(scope, receive, send)
        finally:
            log_request(scope, status, started)
            request_id_var.reset(token)


async def gateway(request: Request, *, request_id: str | None = None) -> Response:
    """Carry one X-Road REST call to the provider's backend and its answer back
    (`request_id`: the call's X-Road-Request-Id, else a new one)."""
    state = gateway_state(request.app)
    call = new_call(request, request_id=request_id)
    try:
        await read_body(request, call)
        await _phase(state, check_call, request, call)
        answer = await _forward(state, call)
        headers = await _phase(state, _seal, call, answer)
        record = log_record(call, status=answer.status, outcome="ok", response_digest=answer.digest)
    except XRoadError as error:
        return await _fail(state, call, error)
    except Exception:
        log.exception("exchange call failed unexpectedly")
        error = XRoadError("Server.ClientProxy.InternalError", "The exchange failed; try again.")
        return await _fail(state, call, error)
    try:
        await state.log_writer().append(record)
    except Exception:
        log.exception("could not log an exchange call")
        return _unlogged(state, call)
    state.metrics.observe(
        service=call.metric_service, outcome="ok", seconds=time.perf_counter() - call.started
    )
    return _answer(answer, headers)


def _answer(answer: BackendAnswer, headers: list[tuple[bytes, bytes]]) -> Response:
    """The consumer's answer, with every header line (repeated ones too) as sealed."""
    response = Response(content=answer.body, status_code=answer.status)
    length = [line for line in response.raw_headers if line[0] == b"content-length"]
    response.raw_headers = [(name.lower(), value) for name, value in headers] + length
    return response


async def _phase(state: GatewayState, run: Callable[..., _T], *args: Any) -> _T:
    """Run a phase (`run(session, state, *args)`) on the event loop when the caches hold all
    it needs (steady state: no database work, no thread hop); on a cache miss, again in the
    thread pool in one short transaction. Phases are safe to run twice."""
    try:
        return run(state.offline, state, *args)
    except NeedsDatabase:
        pass
    return await run_in_threadpool(_in_transaction, state, run, *args)


def _in_transaction(state: GatewayState, run: Callable[..., _T], *args: Any) -> _T:
    with transaction(state.factory) as session:
        return run(session, state, *args)


async def _forward(state: GatewayState, call: Call) -> BackendAnswer:
    """Phase 2: the backend's answer, through the service's circuit breaker."""
    assert call.service is not None and call.outgoing is not None
    key = call.service.xroad_id
    if not state.breakers.allow(key):
        state.metrics.breaker(key, is_open=True)
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
        if error.type in _BREAKER_FAILURES:
            state.breakers.failure(key)
        else:
            state.breakers.release(key)
        raise
    if answer.status >= 500:
        state.breakers.failure(key)
    else:
        state.breakers.success(key)
    state.metrics.breaker(key, is_open=False)
    state.metrics.provider_answered(key, answer.seconds)
    return answer


def _seal(
    session: Session, state: GatewayState, call: Call, answer: BackendAnswer
) -> list[tuple[bytes, bytes]]:
    """Phase 3: check the answer (form, provider's signature, echoed ids) and sign it; the
    headers of the answer to the consumer."""
    assert call.service is not None
    provider = call.service.provider
    check_answer(answer, service=call.service.xroad_id)
    if provider.require_signature or "signature-input" in answer.headers:
        _check_provider_signature(session, state, provider, answer)
    _check_echo(call, answer, signed=provider.require_signature)
    key_id, private_key = state.hosted_key(session, provider.member_class, provider.member_code)
    ours = [(name.encode(), value.encode()) for name, value in xroad_headers(call).items()]
    try:
        return sig.sign_response_lines(
            answer_headers(answer.headers) + ours,
            status=answer.status,
            key_id=key_id,
            private_key=private_key,
            body=answer.body,
            digest=answer.digest,
        )
    except sig.Unsignable:
        raise XRoadError(
            "Server.ServerProxy.MalformedResponse",
            f"The provider of {call.service.xroad_id} answered with a header value that cannot "
            "be signed (only visible ASCII may be: RFC 9421).",
        ) from None


def _check_provider_signature(
    session: Session, state: GatewayState, provider: SubsystemInfo, answer: BackendAnswer
) -> None:
    try:
        sig.verify_response(
            status=answer.status,
            headers=answer.headers,
            body=answer.body,
            lookup=lambda kid: state.public_key(session, kid),
            member=(provider.member_class, provider.member_code),
            subsystem_id=provider.id,
        )
    except sig.SignatureError as exc:
        raise XRoadError(
            "Server.ServerProxy.InvalidSignature",
            f"The provider's answer signature is refused: {exc.reason}",
        ) from None


def _check_echo(call: Call, answer: BackendAnswer, *, signed: bool) -> None:
    """The answer must belong to this call: an echoed X-Road-Id / X-Road-Request-Id must be
    ours, and a provider that signs its answers must echo (and so sign) X-Road-Request-Id."""
    echoed = answer.headers.get("x-road-request-id")
    if echoed is None and signed:
        raise XRoadError(
            "Server.ServerProxy.MalformedResponse",
            "The provider's signed answer does not echo X-Road-Request-Id.",
        )
    for name, ours in (("x-road-request-id", call.request_id), ("x-road-id", call.transaction_id)):
        value = answer.headers.get(name)
        if value is not None and value.strip() != ours:
            raise XRoadError(
                "Server.ServerProxy.MalformedResponse",
                f"The provider's answer echoes another call's {name} (not this call's).",
            )


async def _fail(state: GatewayState, call: Call, error: XRoadError) -> Response:
    """Log the refused or failed call (committed), then answer X-Road's error."""
    response = xroad_error_response(error, headers=xroad_headers(call))
    try:
        digest = sig.content_digest(response.body)
        record = log_record(call, status=error.status, outcome=error.type, response_digest=digest)
        await state.log_writer().append(record)
    except Exception:
        log.exception("could not log a failed exchange call")
        return _unlogged(state, call)
    state.metrics.observe(
        service=call.metric_service, outcome=error.type, seconds=time.perf_counter() - call.started
    )
    return response


def _unlogged(state: GatewayState, call: Call) -> Response:
    """The answer when the log cannot take the call: nothing of the provider's answer."""
    error = XRoadError(
        "Server.ClientProxy.InternalError", "The exchange log is unavailable; try again."
    )
    state.metrics.observe(
        service=call.metric_service, outcome=error.type, seconds=time.perf_counter() - call.started
    )
    return xroad_error_response(error, headers=xroad_headers(call))
