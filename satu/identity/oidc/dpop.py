"""DPoP (RFC 9449): checking proof JWTs and binding tokens to the client's key (`cnf.jkt`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.identity.oidc import replay
from satu.identity.oidc.clients import _unverified
from satu.identity.oidc.errors import OAuthError
from satu.identity.oidc.util import ASYMMETRIC_ALGS, sha256_b64url

PROOF_MAX_AGE = timedelta(seconds=300)
PROOF_FUTURE_SKEW = timedelta(seconds=60)
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


class DPoPError(ValueError):
    """A DPoP proof that is missing, malformed or does not match the request."""


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
) -> str:
    """Check a DPoP proof for this request; the JWK thumbprint (`jkt`) of its key."""
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
    if not replay.first_use(
        session=session,
        kind="dpop",
        issuer=jkt,
        jti=jti,
        expires_at=now + PROOF_MAX_AGE + PROOF_FUTURE_SKEW,
    ):
        raise DPoPError("The DPoP proof was already used.")
    return jkt
