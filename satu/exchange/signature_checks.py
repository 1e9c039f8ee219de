"""Checking HTTP message signatures (RFC 9421) made under label `satu`, and the nonce replay
store; verification always goes through the `http-message-signatures` library."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import HTTPMessageVerifier, InvalidSignature, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.exchange.models import SeenNonce
from satu.exchange.schemas import KeyInfo
from satu.exchange.signing import (
    ALGORITHM,
    CLOCK_SKEW,
    LABEL,
    MAX_AGE,
    REQUEST_FIELDS,
    REQUEST_REQUIRED,
    RESPONSE_FIELDS,
    RESPONSE_REQUIRED,
    Fields,
    RequestView,
    ResponseView,
    SignatureError,
    _Resolver,
)


@dataclass(frozen=True)
class Verified:
    """What a verified signature established."""

    key_id: str
    member_class: str
    member_code: str
    subsystem_id: int | None
    created: int
    nonce: str | None
    covered: tuple[str, ...]


class _Verifier(HTTPMessageVerifier):
    # We select our label ourselves; other labels (a caller's own) may travel alongside.
    allow_label_only_selection = True
    max_clock_skew = timedelta(seconds=CLOCK_SKEW)


KeyLookup = Callable[[str], KeyInfo | None]


def _verify(
    message: RequestView | ResponseView,
    *,
    body: bytes,
    lookup: KeyLookup,
    member: tuple[str, str] | None,
    subsystem_id: int | None,
    required: tuple[str, ...],
    fields: tuple[str, ...],
    max_age: int,
) -> Verified:
    headers = message.headers
    if "signature" not in headers or "signature-input" not in headers:
        raise SignatureError(
            f"the message carries no HTTP Message Signature (RFC 9421, label '{LABEL}')"
        )
    resolver = _Resolver()
    found: dict[str, KeyInfo] = {}

    def resolve(key_id: str) -> Ed25519PublicKey | None:
        info = lookup(key_id)
        if info is None:
            raise InvalidSignature(f"unknown signing key {key_id[:100]!r}")
        if info.revoked:
            raise InvalidSignature(f"signing key {key_id[:100]!r} has been revoked")
        if info.algorithm != ALGORITHM:
            raise InvalidSignature(f"signing key {key_id[:100]!r} is not an Ed25519 key")
        if member is not None and (info.member_class, info.member_code) != member:
            raise InvalidSignature(f"signing key {key_id[:100]!r} belongs to another member")
        if subsystem_id is not None and info.subsystem_id not in (None, subsystem_id):
            raise InvalidSignature(f"signing key {key_id[:100]!r} belongs to another subsystem")
        found[key_id] = info
        return Ed25519PublicKey.from_public_bytes(info.public_key)

    resolver.resolve_public_key = resolve  # type: ignore[method-assign]
    verifier = _Verifier(signature_algorithm=algorithms.ED25519, key_resolver=resolver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            results = verifier.verify(
                message,
                max_age=timedelta(seconds=max_age),
                expect_label=LABEL,
                require_components=required,
                body=body,
            )
        except InvalidSignature as exc:
            raise SignatureError(_reason(exc)) from None
        except HTTPMessageSignaturesException as exc:
            raise SignatureError(f"malformed signature: {exc}") from None
    result = results[0]
    params = result.parameters
    if params.get("alg") != ALGORITHM:
        raise SignatureError('the signature must name alg="ed25519"')
    covered = tuple(
        k.split(";", 1)[0].strip('"') for k in result.covered_components if "@signature" not in k
    )
    for name in fields:
        if name in headers and name not in covered:
            raise SignatureError(f"header {name} is present but not covered by the signature")
    key_id = str(params["keyid"])
    info = found[key_id]
    return Verified(
        key_id=key_id,
        member_class=info.member_class,
        member_code=info.member_code,
        subsystem_id=info.subsystem_id,
        created=int(params["created"]),
        nonce=str(params["nonce"]) if "nonce" in params else None,
        covered=covered,
    )


def _reason(exc: Exception) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    cause = exc.__cause__
    if text == "" and cause is not None:
        text = str(cause)
    if "Signature age exceeds" in text:
        return f"the signature is older than {MAX_AGE} seconds (created)"
    if "in the future" in text:
        return "the signature's created time lies in the future"
    if "Content-Digest does not match" in text:
        return "Content-Digest does not match the body"
    if "requires a signed Content-Digest" in text:
        return "the body is not covered by a signed Content-Digest"
    if text in ("", "InvalidSignature()") or "InvalidSignature" in type(cause).__name__:
        return "the signature does not verify (message or headers altered, or wrong key)"
    return text[:300]


def verify_request(
    *,
    method: str,
    url: str,
    headers: Fields | httpx.Headers,
    body: bytes,
    lookup: KeyLookup,
    member: tuple[str, str] | None = None,
    subsystem_id: int | None = None,
    max_age: int = MAX_AGE,
) -> Verified:
    """Verify a request's `satu` signature, its digest and coverage; raises SignatureError.

    Replay protection is separate: call `remember_nonce` with the result.
    """
    verified = _verify(
        RequestView(method.upper(), url, headers),
        body=body,
        lookup=lookup,
        member=member,
        subsystem_id=subsystem_id,
        required=REQUEST_REQUIRED,
        fields=REQUEST_FIELDS,
        max_age=max_age,
    )
    if not verified.nonce:
        raise SignatureError("the signature has no nonce")
    return verified


def verify_response(
    *,
    status: int,
    headers: Fields | httpx.Headers,
    body: bytes,
    lookup: KeyLookup,
    member: tuple[str, str] | None = None,
    subsystem_id: int | None = None,
    max_age: int = MAX_AGE,
) -> Verified:
    """Verify a response's `satu` signature, its digest and coverage; raises SignatureError."""
    return _verify(
        ResponseView(status, headers),
        body=body,
        lookup=lookup,
        member=member,
        subsystem_id=subsystem_id,
        required=RESPONSE_REQUIRED,
        fields=RESPONSE_FIELDS,
        max_age=max_age,
    )


# --- replay protection -----------------------------------------------------------------------

_last_purge = 0.0
PURGE_EVERY = 60.0


def remember_nonce(*, session: Session, verified: Verified, max_age: int = MAX_AGE) -> None:
    """Record a verified signature's nonce; SignatureError if this key used it before.

    Runs in a savepoint, so a replay leaves the caller's transaction usable. Expired nonces
    are purged at most once a minute per process.
    """
    global _last_purge
    if verified.nonce is None:
        raise SignatureError("the signature has no nonce")
    if len(verified.nonce) > 200:
        raise SignatureError("the signature's nonce is longer than 200 characters")
    expires = datetime.fromtimestamp(verified.created + max_age + CLOCK_SKEW, UTC)
    try:
        with session.begin_nested():
            session.execute(
                insert(SeenNonce).values(
                    key_id=verified.key_id, nonce=verified.nonce, expires_at=expires
                )
            )
    except IntegrityError:
        raise SignatureError("replayed request: this nonce was already used") from None
    now = time.monotonic()
    if now - _last_purge > PURGE_EVERY:
        _last_purge = now
        purge_nonces(session=session)


def purge_nonces(*, session: Session, now: datetime | None = None) -> int:
    """Delete nonces whose signatures can no longer be fresh; the number deleted."""
    result = session.execute(delete(SeenNonce).where(SeenNonce.expires_at < (now or utcnow())))
    return int(getattr(result, "rowcount", 0) or 0)


def header_lines(headers: Mapping[str, str]) -> Fields:
    """Read-only header lines from a mapping."""
    return Fields(list(headers.items()))
