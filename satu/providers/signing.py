"""HTTP Message Signatures (RFC 9421) at a provider's door, with the `http-message-signatures`
library: verify the exchange gateway's signature on every request, sign every answer.

- Requests must carry one Ed25519 signature (label `satu` when there are several) whose key id
  is in Satu's published JWKS (fetched, cached, refetched when an unknown key id appears),
  covering `@method`, the target (`@target-uri`, or `@authority` + `@path` + `@query`) and, for
  a body, `content-digest` (RFC 9530, checked against the bytes received). `created` must be
  recent and the `nonce` unseen: a replayed request is refused.
- Answers are signed with the provider's own key (label `satu`), covering `@status`,
  `content-type`, `content-digest` and the request's `X-Road-Id` and `X-Road-Request-Id`, echoed
  back, so an answer cannot be passed off as the answer to another call. (RFC 9421's `;req`
  components would bind it too, but the gateway verifies answers without the request.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import http_sf
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

log = logging.getLogger(__name__)

LABEL = "satu"
# The answer's signature covers these, and each of ECHOED and content-type it carries.
RESPONSE_COMPONENTS = ("@status", "content-digest")
# Request headers echoed in the answer (and covered): they tie the answer to the call.
ECHOED = ("x-road-id", "x-road-request-id")


# --- keys --------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    """Base64url without padding (JOSE)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw_public(key))},
        separators=(",", ":"),
        sort_keys=True,
    )
    return b64url(hashlib.sha256(canonical.encode()).digest())


class ProviderKey:
    """A provider's own Ed25519 signing key, kept in a PEM file (created on first use, 0600)."""

    def __init__(self, private_key: Ed25519PrivateKey, key_id: str) -> None:
        self.private_key = private_key
        self.key_id = key_id

    @classmethod
    def load_or_create(cls, path: Path, *, prefix: str) -> ProviderKey:
        """The key in `path`, or a new one written there; key id `<prefix>-<thumbprint>`."""
        if path.exists():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, Ed25519PrivateKey):
                raise ValueError(f"{path} does not hold an Ed25519 private key")
            key = loaded
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
        return cls(key, f"{prefix}-{thumbprint(key.public_key())[:16]}")

    @property
    def public_bytes(self) -> bytes:
        """The raw 32-byte public key (what Satu's registry stores)."""
        return raw_public(self.private_key.public_key())

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK (OKP/Ed25519) with its key id."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(self.public_bytes),
            "kid": self.key_id,
            "alg": "EdDSA",
            "use": "sig",
        }


class KeysUnavailable(Exception):
    """Satu's key set could not be fetched and none is cached."""


def _jwk_public_key(jwk: Any) -> tuple[str, Ed25519PublicKey] | None:
    if not isinstance(jwk, dict):
        return None
    kid, x = jwk.get("kid"), jwk.get("x")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return None
    if not isinstance(kid, str) or not kid or not isinstance(x, str):
        return None
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        return kid, Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return None


class JwksKeyResolver(HTTPSignatureKeyResolver):
    """Public keys from Satu's JWKS, cached for `ttl` seconds.

    An unknown key id triggers a refetch, at most once per `refresh_floor` seconds (so a flood
    of made-up key ids cannot turn the provider into a JWKS hammer). A failed fetch keeps the
    keys already known; with none known, `KeysUnavailable` is raised. `accept(jwk)` can narrow
    which published keys are trusted (e.g. only the gateway's hosted keys).
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 300.0,
        refresh_floor: float = 5.0,
        timeout: float = 5.0,
        accept: Callable[[dict[str, Any]], bool] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.ttl = ttl
        self.refresh_floor = refresh_floor
        self.timeout = timeout
        self.accept = accept
        self.transport = transport
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at = float("-inf")
        self._lock = threading.Lock()
        self.fetches = 0

    def _fetch(self) -> None:
        self._attempted_at = time.monotonic()
        self.fetches += 1
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                answer = client.get(self.url, headers={"Accept": "application/json"})
                answer.raise_for_status()
                document = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("could not fetch the exchange JWKS from %s: %s", self.url, exc)
            if self._fetched_at is None:
                raise KeysUnavailable(str(exc)) from exc
            return
        keys: dict[str, Ed25519PublicKey] = {}
        entries = document.get("keys") if isinstance(document, dict) else None
        for jwk in entries if isinstance(entries, list) else []:
            parsed = _jwk_public_key(jwk)
            if parsed is not None and (self.accept is None or self.accept(jwk)):
                keys[parsed[0]] = parsed[1]
        self._keys = keys
        self._fetched_at = time.monotonic()

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        with self._lock:
            now = time.monotonic()
            stale = self._fetched_at is None or now - self._fetched_at > self.ttl
            missing = key_id not in self._keys
            if (stale or missing) and now - self._attempted_at >= self.refresh_floor:
                self._fetch()
            elif self._fetched_at is None:
                raise KeysUnavailable("the exchange key set has not been fetched yet")
            return self._keys.get(key_id)

    def resolve_private_key(self, key_id: str) -> Any:
        raise HTTPMessageSignaturesException("a verifying resolver holds no private keys")


class _OwnKey(HTTPSignatureKeyResolver):
    def __init__(self, key: ProviderKey) -> None:
        self.key = key

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self.key.private_key.public_key() if key_id == self.key.key_id else None

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        if key_id != self.key.key_id:
            raise KeyError(key_id)
        return self.key.private_key


# --- message views the library reads -------------------------------------------------------


class FieldLines:
    """Header field lines in wire order, writable (what the library's signer needs)."""

    def __init__(self, lines: Iterable[tuple[str, str]]) -> None:
        self.lines = list(lines)

    def items(self) -> list[tuple[str, str]]:
        return list(self.lines)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(dict.fromkeys(name for name, _ in self.lines))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self.lines)

    def __setitem__(self, name: str, value: str) -> None:
        del self[name]
        self.lines.append((name, value))

    def __delitem__(self, name: str) -> None:
        self.lines = [(n, v) for n, v in self.lines if n.lower() != name.lower()]

    def get(self, name: str) -> str | None:
        values = [v for n, v in self.lines if n.lower() == name.lower()]
        return ", ".join(values) if values else None


class RequestView:
    """A request as the library sees it: method, absolute URL, header lines."""

    def __init__(self, method: str, url: str, headers: FieldLines) -> None:
        self.method = method
        self.url = url
        self.headers = headers


class ResponseView:
    """An answer as the library sees it, with the request it answers."""

    def __init__(self, status_code: int, headers: FieldLines, request: RequestView) -> None:
        self.status_code = status_code
        self.headers = headers
        self.request = request


def request_view(scope: dict[str, Any]) -> RequestView:
    """The request of an ASGI scope, its URL rebuilt from the Host header and the raw path."""
    lines = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    headers = FieldLines(lines)
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = f"{server[0]}:{server[1]}" if server[1] else server[0]
    raw_path = scope.get("raw_path") or scope["path"].encode()
    url = f"{scope.get('scheme', 'http')}://{host}{raw_path.decode('latin-1')}"
    if scope.get("query_string"):
        url += "?" + scope["query_string"].decode("latin-1")
    return RequestView(scope["method"], url, headers)


# --- verification --------------------------------------------------------------------------


class SignatureRefused(Exception):
    """Why a request's signature is not accepted."""


class _Verifier(HTTPMessageVerifier):
    allow_label_only_selection = True  # several signatures: take ours by its label
    max_clock_skew = timedelta(seconds=30)


class NonceCache:
    """Nonces accepted recently, each kept until a signature carrying it would be too old."""

    def __init__(self, keep_seconds: float, max_entries: int = 1_000_000) -> None:
        self.keep_seconds = keep_seconds
        self.max_entries = max_entries
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def first_use(self, key_id: str, nonce: str) -> bool:
        """Record the nonce; False when it was seen before (a replay)."""
        now = time.monotonic()
        with self._lock:
            if now - self._swept > 30 or len(self._seen) >= self.max_entries:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
                self._swept = now
            if (key_id, nonce) in self._seen:
                return False
            if len(self._seen) >= self.max_entries:
                return False  # refuse rather than forget: better a retry than a replay
            self._seen[(key_id, nonce)] = now + self.keep_seconds
            return True


def _covered(components: Iterable[str]) -> set[str]:
    """Covered component ids without parameters order concerns (plain names only)."""
    return {c for c in components if not c.startswith('"@signature-params"')}


class RequestVerifier:
    """Checks one request's signature: key from the JWKS, coverage, digest, age, nonce."""

    def __init__(self, keys: HTTPSignatureKeyResolver, *, max_age_seconds: int = 300) -> None:
        self.keys = keys
        self.max_age = timedelta(seconds=max_age_seconds)
        self.verifier = _Verifier(signature_algorithm=algorithms.ED25519, key_resolver=keys)
        self.nonces = NonceCache(keep_seconds=max_age_seconds + 2 * 30)

    def verify(self, request: RequestView, body: bytes) -> dict[str, Any]:
        """The verified signature's parameters; raises SignatureRefused (or KeysUnavailable)."""
        headers = request.headers
        if headers.get("signature") is None or headers.get("signature-input") is None:
            raise SignatureRefused("the request is not signed (Signature and Signature-Input)")
        label = None
        try:
            labels = http_sf.parse(
                (headers.get("signature-input") or "").encode(), tltype="dictionary"
            )
            if len(labels) > 1:
                label = LABEL
        except (ValueError, TypeError) as exc:
            raise SignatureRefused("malformed Signature-Input") from exc
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results = self.verifier.verify(
                    request, max_age=self.max_age, expect_label=label, body=body
                )
        except KeysUnavailable:
            raise
        except (InvalidSignature, HTTPMessageSignaturesException) as exc:
            if isinstance(exc.__cause__, KeysUnavailable):
                raise exc.__cause__ from None
            raise SignatureRefused(f"signature not valid: {exc}") from exc
        result = results[0]
        covered = _covered(result.covered_components)
        query = request.url.partition("?")[2]
        if '"@method"' not in covered:
            raise SignatureRefused("the signature must cover @method")
        if '"@target-uri"' not in covered and not (
            {'"@authority"', '"@path"'} <= covered and (not query or '"@query"' in covered)
        ):
            raise SignatureRefused(
                "the signature must cover @target-uri (or @authority, @path and @query)"
            )
        nonce = result.nonce
        if not nonce:
            raise SignatureRefused("the signature must carry a nonce")
        if not self.nonces.first_use(str(result.parameters["keyid"]), nonce):
            raise SignatureRefused("replayed request: this signature nonce was already used")
        return dict(result.parameters)


class ResponseSigner:
    """Signs a provider's answers with its own key."""

    def __init__(self, key: ProviderKey) -> None:
        self.key = key
        self.signer = HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519, key_resolver=_OwnKey(key)
        )

    def sign(self, response: ResponseView, body: bytes) -> None:
        """Add Content-Digest, Signature-Input and Signature to the answer's headers."""
        for name in ECHOED:
            value = response.request.headers.get(name)
            del response.headers[name]
            if value is not None and value.isprintable() and len(value) <= 200:
                response.headers[name] = value
        components = list(RESPONSE_COMPONENTS)
        components += [n for n in ("content-type", *ECHOED) if n in response.headers]
        del response.headers["content-digest"]
        self.signer.sign(
            response,
            key_id=self.key.key_id,
            label=LABEL,
            nonce=secrets.token_urlsafe(16),
            covered_component_ids=components,
            body=body,
        )
