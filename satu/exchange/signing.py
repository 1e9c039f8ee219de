"""Signing HTTP messages (RFC 9421, Ed25519, `Content-Digest` per RFC 9530) under label `satu`.

What is covered is listed in `signatures.py`. The gateway signs two messages per call, so the
usual shapes (plain ASCII values) are signed by writing the signature base directly (one
Ed25519 signature, no Structured Field round trips); anything unusual goes through the
`http-message-signatures` library, whose output the fast path equals byte for byte (Ed25519
is deterministic; tests/exchange/test_signatures.py compares both).

The constants, errors and message views live in `signing_common.py` and the direct signature
base writer in `signing_fast.py`; this module keeps the entry points (`sign_request`,
`sign_request_lines`, `sign_response`, `sign_response_lines`) and the library path, and is the
public face of all three.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from satu.exchange.signing_common import ALGORITHM as ALGORITHM
from satu.exchange.signing_common import CLOCK_SKEW as CLOCK_SKEW
from satu.exchange.signing_common import LABEL as LABEL
from satu.exchange.signing_common import MAX_AGE as MAX_AGE
from satu.exchange.signing_common import REQUEST_FIELDS as REQUEST_FIELDS
from satu.exchange.signing_common import REQUEST_REQUIRED as REQUEST_REQUIRED
from satu.exchange.signing_common import RESPONSE_FIELDS as RESPONSE_FIELDS
from satu.exchange.signing_common import RESPONSE_REQUIRED as RESPONSE_REQUIRED
from satu.exchange.signing_common import Fields as Fields
from satu.exchange.signing_common import RequestView as RequestView
from satu.exchange.signing_common import ResponseView as ResponseView
from satu.exchange.signing_common import SignatureError as SignatureError
from satu.exchange.signing_common import Unsignable as Unsignable
from satu.exchange.signing_common import _Resolver as _Resolver
from satu.exchange.signing_common import content_digest as content_digest
from satu.exchange.signing_common import new_nonce as new_nonce
from satu.exchange.signing_fast import (
    _PLAIN,
    _REPLACED,
    _fast_signature,
    _line_values,
    _response_signature,
    _set_lines,
    _target_uri,
    _unsigned,
)
from satu.exchange.signing_fast import Lines as Lines
from satu.exchange.signing_fast import ed25519_sign as ed25519_sign

# --- signing ---------------------------------------------------------------------------------


def _library_sign(
    message: ResponseView | httpx.Request,
    *,
    derived: list[str],
    fields: tuple[str, ...],
    key_id: str,
    private_key: Ed25519PrivateKey,
    body: bytes,
    created: datetime,
    nonce: str,
) -> None:
    """Sign through `http-message-signatures` (the reference the fast path must equal): an
    earlier signature and digest are replaced; `derived` and those of `fields` present are
    covered, as on the fast path."""
    headers = message.headers
    for name in _REPLACED:
        if name.decode() in headers:
            del headers[name.decode()]
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519, key_resolver=_Resolver(private_key)
    )
    try:
        signer.sign(
            message,
            key_id=key_id,
            created=created,
            nonce=nonce,
            label=LABEL,
            covered_component_ids=[*derived, *(f for f in fields if f in headers)],
            body=body,
        )
    except HTTPMessageSignaturesException as exc:
        raise Unsignable(str(exc)) from None


def sign_request_lines(
    method: str,
    url: str,
    lines: Iterable[tuple[bytes, bytes]],
    *,
    key_id: str,
    private_key: Ed25519PrivateKey,
    body: bytes = b"",
    digest: str | None = None,
    created: datetime | None = None,
    nonce: str | None = None,
) -> Lines | None:
    """A request's header lines, signed: `lines` without any earlier signature or
    Content-Digest, then ours. `url`: the absolute URL as it will be sent (`str(httpx.URL)`).
    None when a value is unusual: then build the `httpx.Request` and `sign_request` it.
    The gateway signs this way before it builds the request (no header rewriting)."""
    kept = _unsigned(lines)
    target = _target_uri(url, method)
    if target is None or not _PLAIN.match(method):
        return None
    values = _line_values(kept)
    signature = _fast_signature(
        values,
        [("@method", method), ("@target-uri", target)],
        [f for f in REQUEST_FIELDS if f in values],
        key_id=key_id,
        private_key=private_key,
        body=body,
        digest=digest,
        created=created or datetime.now(UTC),
        nonce=nonce or new_nonce(),
    )
    return None if signature is None else kept + signature


def sign_request(
    request: httpx.Request,
    *,
    key_id: str,
    private_key: Ed25519PrivateKey,
    body: bytes = b"",
    digest: str | None = None,
    created: datetime | None = None,
    nonce: str | None = None,
    fast: bool = True,
) -> None:
    """Sign a request in place: adds `Content-Digest`, `Signature-Input` and `Signature`.

    `digest`: the body's `content_digest` when the caller has it already (not hashed again).
    `fast=False` signs through the library only (the fast path gives the same bytes).
    """
    created = created or datetime.now(UTC)
    nonce = nonce or new_nonce()
    if fast:
        signed = sign_request_lines(
            request.method,
            str(request.url),
            request.headers.raw,
            key_id=key_id,
            private_key=private_key,
            body=body,
            digest=digest,
            created=created,
            nonce=nonce,
        )
        if signed is not None:
            _set_lines(request.headers, signed[-3:])
            return
    _library_sign(
        request,
        derived=["@method", "@target-uri"],
        fields=REQUEST_FIELDS,
        key_id=key_id,
        private_key=private_key,
        body=body,
        created=created,
        nonce=nonce,
    )


def sign_response_lines(
    lines: Iterable[tuple[bytes, bytes]],
    *,
    status: int,
    key_id: str,
    private_key: Ed25519PrivateKey,
    body: bytes = b"",
    digest: str | None = None,
    created: datetime | None = None,
    nonce: str | None = None,
) -> Lines:
    """A response's header lines, signed (status and body given): `lines` without any earlier
    signature or Content-Digest, then ours; through the library when a value is unusual."""
    kept = _unsigned(lines)
    created = created or datetime.now(UTC)
    nonce = nonce or new_nonce()
    signature = _response_signature(
        kept,
        status=status,
        key_id=key_id,
        private_key=private_key,
        body=body,
        digest=digest,
        created=created,
        nonce=nonce,
    )
    if signature is not None:
        return kept + signature
    headers = httpx.Headers(kept)
    sign_response(
        headers,
        status=status,
        key_id=key_id,
        private_key=private_key,
        body=body,
        created=created,
        nonce=nonce,
        fast=False,
    )
    return [(name.lower(), value) for name, value in headers.raw]


def sign_response(
    headers: httpx.Headers,
    *,
    status: int,
    key_id: str,
    private_key: Ed25519PrivateKey,
    body: bytes = b"",
    digest: str | None = None,
    created: datetime | None = None,
    nonce: str | None = None,
    fast: bool = True,
) -> None:
    """Sign a response's headers in place (status and body given); `digest` and `fast` as for
    requests."""
    created = created or datetime.now(UTC)
    nonce = nonce or new_nonce()
    if fast:
        signature = _response_signature(
            _unsigned(headers.raw),
            status=status,
            key_id=key_id,
            private_key=private_key,
            body=body,
            digest=digest,
            created=created,
            nonce=nonce,
        )
        if signature is not None:
            _set_lines(headers, signature)
            return
    _library_sign(
        ResponseView(status, headers),
        derived=["@status"],
        fields=RESPONSE_FIELDS,
        key_id=key_id,
        private_key=private_key,
        body=body,
        created=created,
        nonce=nonce,
    )
