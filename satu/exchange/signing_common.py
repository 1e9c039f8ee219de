"""What signing and checking HTTP messages share: the label, covered fields, errors and views.

Holds the constants that say what a `satu` signature covers (and how long it stays fresh),
`SignatureError` and `Unsignable`, the read-only message views and key resolver the
`http-message-signatures` library reads, `new_nonce` and `content_digest`. It is separate
because both the signing paths (`signing.py`, `signing_fast.py`) and the checks
(`signature_checks.py`) need it and it needs none of them; `signing.py` is the public face.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

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
