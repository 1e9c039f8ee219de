"""Phase 1 of a gateway call: every check, then the signed request to the provider's backend.

Order: X-Road-Id and service identifier -> consumer (token + X-Road-Client) -> rate limit ->
service -> operation -> access right -> purpose -> resident and lawful basis (personal data)
-> body limit -> the consumer's own signature and nonce -> the forwarded request, signed with
the consumer member's hosted key. Registry lookups and consents come from the gateway's brief
cache (`gateway_state.CACHE_SECONDS`).
"""

from __future__ import annotations

import hashlib
import re
import uuid

import httpx
from fastapi import Request
from sqlalchemy.orm import Session

from satu.exchange import consumer_auth, lawful, registry
from satu.exchange import signatures as sig
from satu.exchange.backend_http import Message
from satu.exchange.breaker import DEFAULT_RATE_PER_MINUTE
from satu.exchange.forwarding import backend_target, forwarded_headers
from satu.exchange.gateway_call import Call
from satu.exchange.gateway_state import GatewayState, NeedsDatabase
from satu.exchange.schemas import OperationInfo, ServiceInfo, SubsystemInfo
from satu.exchange.xroad import BadIdentifier, ServiceId, XRoadError, split_service_path
from satu.identity import service as identity

# Set by the gateway on the forwarded request (the consumer's own values are replaced).
_OURS = frozenset(
    {b"x-road-client", b"x-road-service", b"x-road-id", b"x-road-request-id", b"x-road-purpose"}
)
_XROAD_ID = re.compile(r"^[\x21-\x7e]{1,100}$")


def check_call(session: Session, state: GatewayState, request: Request, call: Call) -> None:
    """Check everything about the call and prepare `call.outgoing`; XRoadError on a refusal.

    Safe to run again after NeedsDatabase (the call is identified and counted once)."""
    service_id = _identify(call)
    consumer = call.consumer = _authenticate(state, session, request)
    call.client_text = consumer.xroad_id
    if not call.counted:
        call.counted = True
        own = consumer.rate_limit_per_minute
        per_minute = own if own > 0 else DEFAULT_RATE_PER_MINUTE
        retry = state.limits.hit_per_minute("exchange", consumer.xroad_id, per_minute)
        if retry is not None:
            raise XRoadError(
                "Client.RateLimited",
                f"Too many calls from {consumer.xroad_id}; retry in {retry} s.",
            )
    service = state.cached(
        ("service", service_id),
        lambda: registry.resolve_service(session=session, service=service_id),
    )
    if service is None or not service.enabled or not service.provider.enabled:
        raise XRoadError(
            "Server.ClientProxy.UnknownService", f"No such service (or disabled): {service_id}"
        )
    call.service = service
    _authorise(session, state, call, consumer, service)
    call.purpose = lawful.check_purpose(request.headers.get(lawful.PURPOSE_HEADER))
    _lawful_basis(session, state, request, call, consumer, service)
    if len(call.body) > service.max_body_bytes:
        raise XRoadError(
            "Client.BodyTooLarge",
            f"The request body exceeds this service's limit of {service.max_body_bytes} bytes.",
        )
    if consumer.require_signature or "signature-input" in call.headers:
        _consumer_signature(session, state, call, consumer)
    call.outgoing = _outgoing(session, state, call)


def _identify(call: Call) -> ServiceId:
    if call.service_id is not None:
        return call.service_id
    if not _XROAD_ID.match(call.transaction_id):
        call.transaction_id = str(uuid.uuid4())
        raise XRoadError("Client.BadRequest", "X-Road-Id must be 1-100 visible ASCII characters.")
    try:
        service_id, call.rest_path = split_service_path(call.service_text)
    except BadIdentifier as exc:
        raise XRoadError("Client.BadRequest", f"Malformed service identifier: {exc}") from None
    call.service_text = str(service_id)
    call.service_id = service_id
    return service_id


def _authenticate(state: GatewayState, session: Session, request: Request) -> SubsystemInfo:
    """The consumer; a token + X-Road-Client pair that passed stays trusted for CACHE_SECONDS
    (so a revoked token or disabled subsystem is refused within that time)."""
    authorization = request.headers.get("authorization") or ""
    claimed = request.headers.get("x-road-client") or ""
    key = ("consumer", hashlib.sha256(f"{authorization}\n{claimed}".encode()).digest())
    return state.cached(
        key, lambda: consumer_auth.authenticate_consumer(session=session, request=request)
    )


def _authorise(
    session: Session,
    state: GatewayState,
    call: Call,
    consumer: SubsystemInfo,
    service: ServiceInfo,
) -> OperationInfo | None:
    operation = registry.match_operation(service=service, method=call.method, path=call.rest_path)
    call.operation = (
        f"{operation.method} {operation.path}" if operation else f"{call.method} {call.rest_path}"
    )[:300]
    if operation is None and service.operations:
        raise XRoadError(
            "Client.AccessDenied",
            f"{call.method} {call.rest_path[:200]} is not an operation this service exposes.",
        )
    allowed = state.cached(
        ("allowed", consumer.id, service.id, call.operation),
        lambda: registry.is_allowed(
            session=session,
            client_subsystem_id=consumer.id,
            service_id=service.id,
            operation=operation,
        ),
    )
    if not allowed:
        raise XRoadError(
            "Client.AccessDenied",
            f"{consumer.xroad_id} has no access right to {service.xroad_id} ({call.operation}).",
        )
    return operation


def _lawful_basis(
    session: Session,
    state: GatewayState,
    request: Request,
    call: Call,
    consumer: SubsystemInfo,
    service: ServiceInfo,
) -> None:
    user_id = request.headers.get("x-road-userid")
    if not service.personal_data:
        call.user_id = (user_id or "")[:100] or None
        return
    nik = call.nik = lawful.subject_nik(session=session, user_id=user_id)
    basis = lawful.lawful_basis(
        session=session,
        service=service,
        consumer=consumer,
        nik=nik,
        purpose=call.purpose,
        find_mandate=lambda **kw: state.cached(
            ("mandate", *sorted(kw.items())),
            lambda: registry.find_mandate(session=session, **kw),
        ),
        find_consent=lambda: state.cached(
            ("consent", nik, consumer.agency_id),
            lambda: identity.consent_for_agency(
                session=session, nik=nik, agency_id=consumer.agency_id
            ),
        ),
    )
    call.basis = str(basis)


def _consumer_signature(
    session: Session, state: GatewayState, call: Call, consumer: SubsystemInfo
) -> None:
    if getattr(session, "offline", False):
        raise NeedsDatabase("the nonce is stored")  # before the (costly) verification
    try:
        verified = sig.verify_request(
            method=call.method,
            url=call.url,
            headers=call.headers,
            body=call.body,
            lookup=lambda kid: state.public_key(session, kid),
            member=(consumer.member_class, consumer.member_code),
            subsystem_id=consumer.id,
        )
        sig.remember_nonce(session=session, verified=verified)
    except sig.SignatureError as exc:
        raise XRoadError(
            "Client.InvalidSignature", f"Request signature refused: {exc.reason}"
        ) from None


def _outgoing(session: Session, state: GatewayState, call: Call) -> Message:
    """The request to the backend, signed with the consumer member's hosted key."""
    assert call.consumer is not None and call.service is not None
    ours = [
        (b"x-road-client", call.consumer.xroad_id.encode()),
        (b"x-road-service", call.service.xroad_id.encode()),
        (b"x-road-id", call.transaction_id.encode()),
        (b"x-road-request-id", call.request_id.encode()),
        (b"x-road-purpose", call.purpose.encode()),
    ]
    headers = forwarded_headers(call.raw_headers, replaced=_OURS)
    if not any(name.lower() == b"accept-encoding" for name, _ in headers):
        ours.append((b"accept-encoding", b"identity"))
    headers += ours
    key_id, private_key = state.hosted_key(
        session, call.consumer.member_class, call.consumer.member_code
    )
    try:
        target = backend_target(call.service.base_url, call.rest_path, call.query)
        signed = sig.sign_request_lines(
            call.method,
            target.url,
            headers,
            key_id=key_id,
            private_key=private_key,
            body=call.body,
            digest=call.request_digest,
        )
        if signed is not None:
            lines = [(b"host", target.host), *signed]
        else:  # an unusual value: the library signs (the fast path declined)
            request = httpx.Request(call.method, target.url, headers=headers, content=call.body)
            sig.sign_request(
                request,
                key_id=key_id,
                private_key=private_key,
                body=call.body,
                digest=call.request_digest,
                fast=False,
            )
            lines = request.headers.raw  # with httpx's Host line
    except (httpx.InvalidURL, ValueError) as exc:
        raise XRoadError("Client.BadRequest", f"Cannot forward this request: {exc}") from None
    return Message(target.origin, call.method, target.raw_target, lines, call.body)
