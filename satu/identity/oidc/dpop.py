"""DPoP (RFC 9449): checking proof JWTs and binding tokens to the client's key (`cnf.jkt`).

Server nonces (RFC 9449 sections 8 and 9) are stateless: the nonce of a time window is an
HMAC of the window number under a key derived from the server secret, so every worker and
machine sharing `SATU_SECRET_KEY` agrees without storage. A proof's nonce is accepted for the
current and the previous window. `SATU_OIDC_DPOP_NONCE` says when a nonce is required: `off`
(default), `dpop-clients` (clients registered with `require_dpop`) or `always` (every DPoP
proof at the token, PAR and userinfo endpoints, and at resource endpoints that check tokens with
`identity.verify_resident_token`).
"""

from __future__ import annotations

import hmac
import time
from datetime import timedelta
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import utcnow
from satu.identity.oidc import replay
from satu.identity.oidc.clients import _unverified
from satu.identity.oidc.errors import OAuthError
from satu.identity.oidc.keys import keyed_hash
from satu.identity.oidc.models import Client
from satu.identity.oidc.util import ASYMMETRIC_ALGS, sha256_b64url

PROOF_MAX_AGE = timedelta(seconds=300)
PROOF_FUTURE_SKEW = timedelta(seconds=60)
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")
NONCE_WINDOW_SECONDS = 300
NONCE_HEADER = "DPoP-Nonce"


class DPoPError(ValueError):
    """A DPoP proof that is missing, malformed or does not match the request."""


class DPoPNonceError(DPoPError):
    """A proof without a current server nonce where one is required (`use_dpop_nonce`)."""


class DPoPSettings(BaseSettings):
    """DPoP options (`SATU_OIDC_*`)."""

    model_config = SettingsConfigDict(env_prefix="SATU_OIDC_", extra="ignore")

    dpop_nonce: Literal["off", "dpop-clients", "always"] = "off"


@lru_cache(maxsize=1)
def dpop_settings() -> DPoPSettings:
    """The process's DPoP options (read once)."""
    return DPoPSettings()


def nonce_required(client: Client | None) -> bool:
    """Whether DPoP proofs from this client must carry a server nonce."""
    mode = dpop_settings().dpop_nonce
    if mode == "always":
        return True
    return mode == "dpop-clients" and client is not None and bool(client.require_dpop)


def _nonce_for(settings: Settings, window: int) -> str:
    return keyed_hash(settings, "dpop-nonce", str(window))[:32]


def current_nonce(settings: Settings, now: float | None = None) -> str:
    """The nonce to hand out now (an HMAC of the current time window)."""
    moment = now if now is not None else time.time()
    return _nonce_for(settings, int(moment // NONCE_WINDOW_SECONDS))


def nonce_valid(settings: Settings, nonce: Any, now: float | None = None) -> bool:
    """Whether `nonce` is the nonce of the current or the previous window."""
    if not isinstance(nonce, str) or len(nonce) != 32:
        return False
    window = int((now if now is not None else time.time()) // NONCE_WINDOW_SECONDS)
    return any(hmac.compare_digest(nonce, _nonce_for(settings, w)) for w in (window, window - 1))


def _normalise_url(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def proof_header(values: list[str]) -> str | None:
    """The single DPoP header value; more than one is an error."""
    if not values:
        return None
    if len(values) > 1:
        raise DPoPError("Send exactly one DPoP header.")
    return values[0]


def verify_proof(
    *,
    session: Session,
    proof: str,
    method: str,
    url: str,
    access_token: str | None = None,
    nonce_settings: Settings | None = None,
) -> str:
    """Check a DPoP proof for this request; the JWK thumbprint (`jkt`) of its key.

    With `nonce_settings`, the proof must carry a current server nonce (`DPoPNonceError`).
    """
    try:
        header, claims = _unverified(proof)
    except OAuthError as error:
        raise DPoPError("The DPoP proof is not a compact JWS.") from error
    if header.get("typ") != "dpop+jwt":
        raise DPoPError("The DPoP proof must have typ dpop+jwt.")
    alg = header.get("alg")
    if alg not in ASYMMETRIC_ALGS:
        raise DPoPError(f"DPoP algorithm {alg!r} is not allowed.")
    jwk: Any = header.get("jwk")
    if not isinstance(jwk, dict) or any(m in jwk for m in _PRIVATE_MEMBERS):
        raise DPoPError("The DPoP proof must carry a public jwk.")
    try:
        key = JWKRegistry.import_key(jwk)
        verified = dict(jwt.decode(proof, key, algorithms=[alg]).claims)
        jkt = key.thumbprint()
    except (JoseError, ValueError, TypeError) as error:
        raise DPoPError("The DPoP proof signature does not verify.") from error
    if verified != claims:
        raise DPoPError("The DPoP proof is inconsistent.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise DPoPError("The DPoP proof needs a jti.")
    if claims.get("htm") != method:
        raise DPoPError("The DPoP proof htm does not match the request method.")
    htu = claims.get("htu")
    if not isinstance(htu, str) or _normalise_url(htu) != _normalise_url(url):
        raise DPoPError("The DPoP proof htu does not match the request URL.")
    iat = claims.get("iat")
    now = utcnow()
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise DPoPError("The DPoP proof needs iat.")
    if iat < (now - PROOF_MAX_AGE).timestamp() or iat > (now + PROOF_FUTURE_SKEW).timestamp():
        raise DPoPError("The DPoP proof is too old or from the future.")
    if access_token is not None and claims.get("ath") != sha256_b64url(access_token):
        raise DPoPError("The DPoP proof ath does not match the access token.")
    if nonce_settings is not None and not nonce_valid(nonce_settings, claims.get("nonce")):
        raise DPoPNonceError(
            "A DPoP proof with the current server nonce is required; use the DPoP-Nonce header."
        )
    if not replay.first_use(
        session=session,
        kind="dpop",
        issuer=jkt,
        jti=jti,
        expires_at=now + PROOF_MAX_AGE + PROOF_FUTURE_SKEW,
    ):
        raise DPoPError("The DPoP proof was already used.")
    return jkt
