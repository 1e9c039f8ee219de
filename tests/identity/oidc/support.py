"""Helpers for provider tests: clients, keys, assertions, DPoP proofs, PKCE, the code flow."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

ISSUER = "http://127.0.0.1:8000"
TOKEN_URL = f"{ISSUER}/oauth/token"
AGENCY = "kemendagri.dukcapil"
OTHER_AGENCY = "kemendagri"
REDIRECT = "https://layanan.example.go.id/callback"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce() -> tuple[str, str]:
    """A (verifier, S256 challenge) pair."""
    verifier = b64url(secrets.token_bytes(32))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def new_key() -> ECKey:
    return ECKey.generate_key("P-256", auto_kid=True)


def public_jwks(key: ECKey | RSAKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False)]}


def assertion(
    key: ECKey | RSAKey | OctKey,
    client_id: str,
    *,
    aud: Any = TOKEN_URL,
    alg: str = "ES256",
    lifetime: int = 60,
    jti: str | None = None,
    **overrides: Any,
) -> str:
    """A private_key_jwt client assertion."""
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti if jti is not None else uuid.uuid4().hex,
    }
    claims.update(overrides)
    header: dict[str, Any] = {"alg": alg}
    if getattr(key, "kid", None):
        header["kid"] = key.kid
    return jwt.encode(header, claims, key, algorithms=[alg])


def unsigned(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """An `alg: none` JWT."""
    import json

    head = header or {"alg": "none", "typ": "JWT"}
    return b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode()) + "."


def client_auth(key: ECKey, client_id: str, **kwargs: Any) -> dict[str, str]:
    return {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(key, client_id, **kwargs),
    }


def dpop_proof(
    key: ECKey,
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    iat: int | None = None,
    jti: str | None = None,
    typ: str = "dpop+jwt",
    jwk: dict[str, Any] | None = None,
    **extra: Any,
) -> str:
    """A DPoP proof JWT for one request."""
    claims: dict[str, Any] = {
        "jti": jti or uuid.uuid4().hex,
        "htm": method,
        "htu": url,
        "iat": iat if iat is not None else int(time.time()),
    }
    if access_token is not None:
        claims["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
    claims.update(extra)
    header = {"typ": typ, "alg": "ES256", "jwk": jwk or key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=["ES256"])


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field"
    return found.group(1)


def hidden_fields(html: str) -> dict[str, str]:
    import html as html_lib

    fields = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html):
        fields[html_lib.unescape(name)] = html_lib.unescape(value)
    return fields


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_params(client_id: str, challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "st-" + uuid.uuid4().hex[:8],
        "nonce": "n-" + uuid.uuid4().hex[:8],
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return params


def approve(client: TestClient, response: Any) -> Any:
    """Answer a consent page with 'allow'; returns the unfollowed response."""
    assert response.status_code == 200, response.text
    fields = hidden_fields(response.text)
    fields["decision"] = "allow"
    return client.post("/authorize/consent", data=fields, follow_redirects=False)


def get_code(client: TestClient, params: dict[str, str], *, consent: bool = True) -> str:
    """Run /authorize for a signed-in browser and return the code from the redirect."""
    response = client.get("/authorize", params=params, follow_redirects=False)
    if response.status_code == 200 and consent:
        response = approve(client, response)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(params.get("redirect_uri", REDIRECT)), location
    values = query_of(location)
    assert "code" in values, values
    assert values.get("state") == params.get("state")
    assert values.get("iss") == ISSUER
    return values["code"]


def decode_unverified(token: str) -> dict[str, Any]:
    import json

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
