"""Signing HTTP messages (RFC 9421, Ed25519, `Content-Digest` per RFC 9530) under label `satu`.

What is covered is listed in `signatures.py`. The gateway signs two messages per call, so the
usual shapes (plain ASCII values) are signed by writing the signature base directly (one
Ed25519 signature, no Structured Field round trips); anything unusual goes through the
`http-message-signatures` library, whose output the fast path equals byte for byte (Ed25519
is deterministic; tests/exchange/test_signatures.py compares both).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import HTTPMessageSigner, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from http_message_signatures.resolvers import parse_url
from http_message_signatures.structures import normalize_header_value
from nacl.bindings import crypto_sign, crypto_sign_seed_keypair

LABEL = "satu"
ALGORITHM = "ed25519"
MAX_AGE = 300  # seconds a signature stays fresh
CLOCK_SKEW = 30  # seconds a `created` may lie in the future
REQUEST_FIELDS = (
    "content-type",
    "x-road-client",
    "x-road-id",
    "x-road-userid",
    "x-road-issue",
    "x-road-represented-party",
    "x-road-purpose",
)
RESPONSE_FIELDS = (
    "content-type",
    "x-road-client",
    "x-road-service",
    "x-road-id",
    "x-road-request-id",
    "x-road-request-hash",
)
REQUEST_REQUIRED = ("@method", "@target-uri", "content-digest")
RESPONSE_REQUIRED = ("@status", "content-digest")


class SignatureError(Exception):
    """A signature that does not hold, with the precise reason (safe to show the caller)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unsignable(ValueError):
    """A message that cannot be signed as it is (RFC 9421 covers only ASCII field values
    without control characters): the fault of whoever wrote the value."""


# --- message views the library reads -------------------------------------------------------


class Fields:
    """Read-only header lines (name, value) as the library wants them."""

    def __init__(self, lines: Iterable[tuple[str, str]]) -> None:
        self._lines = list(lines)

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> Fields:
        """Header lines from ASGI/httpx raw pairs (ASCII names, Latin-1 values)."""
        return cls((k.decode("latin-1"), v.decode("latin-1")) for k, v in raw)

    def items(self) -> list[tuple[str, str]]:
        return self._lines

    def get(self, name: str) -> str | None:
        name = name.lower()
        values = [v for k, v in self._lines if k.lower() == name]
        return ", ".join(values) if values else None

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self._lines))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k, _ in self._lines)

    def __setitem__(self, name: str, value: str) -> None:
        raise TypeError("read-only headers")

    def __delitem__(self, name: str) -> None:
        raise TypeError("read-only headers")


@dataclass
class RequestView:
    """A request as signed: method, absolute encoded URL, header lines."""

    method: str
    url: str
    headers: Fields | httpx.Headers


@dataclass
class ResponseView:
    """A response as signed: status and header lines (the request is not covered)."""

    status_code: int
    headers: Fields | httpx.Headers
    request: RequestView | None = field(default=None)


class _Resolver:
    def __init__(self, private_key: Ed25519PrivateKey | None = None) -> None:
        self.private_key = private_key
        self.public: Ed25519PublicKey | None = None

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        assert self.private_key is not None
        return self.private_key

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self.public


def new_nonce() -> str:
    """A fresh random nonce (128 bits, base64url)."""
    return secrets.token_urlsafe(16)


def content_digest(body: bytes) -> str:
    """The RFC 9530 `Content-Digest` value of a body: `sha-256=:<base64>:`."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


# --- signing ---------------------------------------------------------------------------------

# Values the fast path writes itself as Structured Field strings / derived component values:
# printable ASCII without `"` and `\\` (anything else goes through the library).
_PLAIN = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]*$")
_PLAIN_FIELD = re.compile(r"^[\x20-\x7e\t]*$")


def _target_uri(url: str, method: str) -> str | None:
    """`@target-uri` exactly as the library derives it, or None when the URL is not plain."""
    parts = parse_url(url)
    path = parts.path if method == "OPTIONS" else (parts.path or "/")
    value = f"{parts.scheme}://{parts.authority}{path}{parts.query_suffix}"
    return value if _PLAIN.match(value) and " " not in value else None


Lines = list[tuple[bytes, bytes]]  # raw header lines: (name, value) as sent
# Lines a new signature replaces: an earlier signature, and the digest (written afresh).
_REPLACED = frozenset({b"signature", b"signature-input", b"content-digest"})


def _line_values(lines: Iterable[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    """Each header's values by lower-case name (Latin-1: a value outside plain ASCII makes the
    fast path give way to the library, as httpx's decoding would), in one pass."""
    values: dict[str, list[str]] = {}
    for name, value in lines:
        values.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return values


def _field_value(values: dict[str, list[str]], name: str) -> str | None:
    value = ", ".join(normalize_header_value(v) for v in values[name])
    return value if _PLAIN_FIELD.match(value) and "\n" not in value else None


def _fast_signature(
    values: dict[str, list[str]],
    derived: list[tuple[str, str]],
    fields: list[str],
    *,
    key_id: str,
    private_key: Ed25519PrivateKey,
    body: bytes,
    digest: str | None,
    created: datetime,
    nonce: str,
) -> Lines | None:
    """The `Content-Digest`, `Signature-Input` and `Signature` lines, from the RFC 9421
    signature base written directly; None when a value is unusual (the caller then signs
    through the library). Byte-identical to the library's output."""
    if not (_PLAIN.match(key_id) and _PLAIN.match(nonce)):
        return None
    lines = [f'"{name}": {value}' for name, value in derived]
    for name in fields:
        value = _field_value(values, name)
        if value is None:
            return None
        lines.append(f'"{name}": {value}')
    digest = digest or content_digest(body)
    lines.append(f'"content-digest": {digest}')
    ids = " ".join(f'"{name}"' for name, _ in derived) + "".join(f' "{n}"' for n in fields)
    stamp = int(created.timestamp())
    params = f'({ids} "content-digest");created={stamp};keyid="{key_id}";alg="{ALGORITHM}"'
    params += f';nonce="{nonce}"'
    lines.append(f'"@signature-params": {params}')
    signature = ed25519_sign(private_key, "\n".join(lines).encode())
    return [
        (b"content-digest", digest.encode()),
        (b"signature-input", f"{LABEL}={params}".encode()),
        (b"signature", f"{LABEL}=:{base64.b64encode(signature).decode()}:".encode()),
    ]


_SODIUM_KEYS_MAX = 1024
# id(key) -> (the key, kept so that its id is not reused while here; libsodium's secret key)
_sodium_keys: dict[int, tuple[Ed25519PrivateKey, bytes]] = {}


def ed25519_sign(private_key: Ed25519PrivateKey, message: bytes) -> bytes:
    """The Ed25519 signature of `message`, made by libsodium (PyNaCl): the same bytes as
    `private_key.sign` (Ed25519 is deterministic) in about 60 % of its time (21 against 33-38
    microseconds here), and the gateway signs twice per call."""
    held = _sodium_keys.get(id(private_key))
    if held is None or held[0] is not private_key:
        if len(_sodium_keys) >= _SODIUM_KEYS_MAX:
            _sodium_keys.clear()
        _, secret = crypto_sign_seed_keypair(private_key.private_bytes_raw())
        held = _sodium_keys[id(private_key)] = (private_key, secret)
    return crypto_sign(message, held[1])[:64]


def _unsigned(lines: Iterable[tuple[bytes, bytes]]) -> Lines:
    """`lines` without the ones a new signature replaces."""
    return [(name, value) for name, value in lines if name.lower() not in _REPLACED]


def _set_lines(headers: httpx.Headers, lines: Lines) -> None:
    """Put the signature's lines on httpx headers, replacing earlier ones."""
    for name in _REPLACED:
        if name.decode() in headers:
            del headers[name.decode()]
    for name, value in lines:
        headers[name.decode()] = value.decode()


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


def _response_signature(
    kept: Lines,
    *,
    status: int,
    key_id: str,
    private_key: Ed25519PrivateKey,
    body: bytes,
    digest: str | None,
    created: datetime,
    nonce: str,
) -> Lines | None:
    """The fast path's signature lines for a response's unsigned lines (None: unusual)."""
    values = _line_values(kept)
    return _fast_signature(
        values,
        [("@status", str(status))],
        [f for f in RESPONSE_FIELDS if f in values],
        key_id=key_id,
        private_key=private_key,
        body=body,
        digest=digest,
        created=created,
        nonce=nonce,
    )


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
