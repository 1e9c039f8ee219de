"""The fast signing path: the RFC 9421 signature base written directly, signed by libsodium.

Holds the checks that a value is plain enough to write without the library (`_PLAIN`,
`_PLAIN_FIELD`, `_target_uri`, `_field_value`), the writer of the `Content-Digest`,
`Signature-Input` and `Signature` lines (`_fast_signature`, and `_response_signature` for a
response), `ed25519_sign` (libsodium, with its per-key cache) and the raw header-line helpers.
It is separate from the entry points in `signing.py`, which choose this path or the library's,
because its output must equal the library's byte for byte and is tested as such.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from datetime import datetime

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures.resolvers import parse_url
from http_message_signatures.structures import normalize_header_value
from nacl.bindings import crypto_sign, crypto_sign_seed_keypair

from satu.exchange.signing_common import ALGORITHM, LABEL, RESPONSE_FIELDS, content_digest

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
