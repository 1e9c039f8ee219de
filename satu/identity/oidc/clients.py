"""The client (relying party) registry and client authentication at the token endpoints.

Two ways for a client to authenticate: `private_key_jwt` (RFC 7523; the client signs a short
assertion with its own asymmetric key, registered as `jwks` or `jwks_uri`) and
`client_secret_basic` (the secret is shown once and stored only as a keyed hash).
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import utcnow
from satu.identity.oidc import replay
from satu.identity.oidc.errors import OAuthError, invalid_client
from satu.identity.oidc.keys import keyed_hash
from satu.identity.oidc.models import Client
from satu.identity.oidc.schemas import ClientCreated, ClientOut, ClientSpec
from satu.identity.oidc.scopes import ADMIN_SCOPES, SUPPORTED_SCOPES, USER_SCOPES, normalise_acr
from satu.identity.oidc.util import ASYMMETRIC_ALGS, random_token
from satu.satudata import service as satudata

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME = timedelta(minutes=10)
CLOCK_SKEW = timedelta(seconds=60)
_JWKS_URI_TTL = 300.0
_jwks_uri_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks_lock = threading.Lock()


class ClientSpecError(ValueError):
    """A registration refused, with a GovStack-style error code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


def _is_loopback(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")


def _check_uri(uri: str, *, code: str, allow_query: bool = True) -> None:
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise ClientSpecError(code, f"{uri!r} is not an absolute http(s) URI without fragment.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ClientSpecError(code, f"{uri!r} must use https (http only on loopback).")
    if not allow_query and parts.query:
        raise ClientSpecError(code, f"{uri!r} must not carry a query.")
    if "*" in uri:
        raise ClientSpecError(code, "Wildcards are not allowed; redirect URIs match exactly.")


def _check_jwks(jwks: dict[str, Any]) -> None:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ClientSpecError("invalid_public_key", "jwks must be a JWK Set with keys.")
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") not in ("EC", "RSA", "OKP"):
            raise ClientSpecError("invalid_public_key", "Only EC, RSA or OKP public keys.")
        if "d" in key or "p" in key:
            raise ClientSpecError("invalid_public_key", "Register public keys only.")
    try:
        KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError) as error:
        raise ClientSpecError("invalid_public_key", f"Unreadable key: {error}") from error


def validated_spec(*, session: Session, spec: ClientSpec) -> ClientSpec:
    """`spec` checked against the registry and our rules, acr values normalised."""
    if satudata.find_agency(session=session, agency_id=spec.agency_id) is None:
        raise ClientSpecError("invalid_rp_id", f"No agency {spec.agency_id!r} in the registry.")
    for uri in spec.redirect_uris:
        _check_uri(uri, code="invalid_redirect_uri")
    for uri in spec.post_logout_redirect_uris:
        _check_uri(uri, code="invalid_redirect_uri")
    if spec.logo_uri:
        _check_uri(spec.logo_uri, code="invalid_uri")
    if "authorization_code" in spec.grant_types and not spec.redirect_uris:
        raise ClientSpecError("invalid_redirect_uri", "authorization_code needs a redirect URI.")
    if "refresh_token" in spec.grant_types and "authorization_code" not in spec.grant_types:
        raise ClientSpecError("invalid_grant_type", "refresh_token needs authorization_code.")
    unknown = [s for s in spec.scopes if s not in SUPPORTED_SCOPES]
    if unknown:
        raise ClientSpecError("invalid_claim", f"Unknown scopes: {', '.join(unknown)}.")
    admin = [s for s in spec.scopes if s in ADMIN_SCOPES]
    if admin and "client_credentials" not in spec.grant_types:
        raise ClientSpecError("invalid_claim", "Administrative scopes need client_credentials.")
    if "authorization_code" in spec.grant_types and "openid" not in spec.scopes:
        raise ClientSpecError("invalid_claim", "A sign-in client must be allowed 'openid'.")
    acrs = [normalise_acr(a) for a in spec.acr_values]
    if not acrs or None in acrs:
        raise ClientSpecError("invalid_acr", "Unknown authentication context class.")
    if spec.auth_method == "private_key_jwt":
        if bool(spec.jwks) == bool(spec.jwks_uri):
            raise ClientSpecError("invalid_public_key", "Give exactly one of jwks or jwks_uri.")
        if spec.jwks:
            _check_jwks(spec.jwks)
        if spec.jwks_uri:
            _check_uri(spec.jwks_uri, code="invalid_uri")
    elif spec.jwks or spec.jwks_uri:
        raise ClientSpecError("invalid_client_auth", "Keys only go with private_key_jwt.")
    return spec.model_copy(update={"acr_values": list(dict.fromkeys(a for a in acrs if a))})


def _out(client: Client) -> ClientOut:
    return ClientOut(
        client_id=client.client_id,
        name=client.name,
        agency_id=client.agency_id,
        status=client.status,
        redirect_uris=list(client.redirect_uris),
        post_logout_redirect_uris=list(client.post_logout_redirect_uris),
        grant_types=list(client.grant_types),
        scopes=list(client.scopes),
        acr_values=list(client.acr_values),
        auth_method=client.auth_method,
        jwks=client.jwks,
        jwks_uri=client.jwks_uri,
        require_par=client.require_par,
        require_dpop=client.require_dpop,
        logo_uri=client.logo_uri,
        created_at=client.created_at,
        updated_at=client.updated_at,
    )


def _secret_hash(settings: Settings, client_id: str, secret: str) -> str:
    return keyed_hash(settings, "client-secret", client_id, secret)


def _apply(client: Client, spec: ClientSpec) -> None:
    client.name = spec.name
    client.agency_id = spec.agency_id
    client.status = spec.status
    client.redirect_uris = list(dict.fromkeys(spec.redirect_uris))
    client.post_logout_redirect_uris = list(dict.fromkeys(spec.post_logout_redirect_uris))
    client.grant_types = list(dict.fromkeys(spec.grant_types))
    client.scopes = list(dict.fromkeys(spec.scopes))
    client.acr_values = list(spec.acr_values)
    client.auth_method = spec.auth_method
    client.jwks = spec.jwks
    client.jwks_uri = spec.jwks_uri
    client.require_par = spec.require_par
    client.require_dpop = spec.require_dpop
    client.logo_uri = spec.logo_uri
    client.updated_at = utcnow()


def create_client(*, session: Session, settings: Settings, spec: ClientSpec) -> ClientCreated:
    """Register a client; the secret (client_secret_basic) is returned only here."""
    spec = validated_spec(session=session, spec=spec)
    client_id = spec.client_id or random_token(16)
    if session.get(Client, client_id) is not None:
        raise ClientSpecError("duplicate_client_id", f"Client {client_id!r} already exists.")
    client = Client(client_id=client_id, created_at=utcnow())
    _apply(client, spec)
    secret = None
    if spec.auth_method == "client_secret_basic":
        secret = random_token(32)
        client.secret_hash = _secret_hash(settings, client_id, secret)
    try:
        with session.begin_nested():
            session.add(client)
    except IntegrityError as error:
        raise ClientSpecError("duplicate_client_id", "Client id already exists.") from error
    return ClientCreated(client=_out(client), client_secret=secret)


def update_client(*, session: Session, client_id: str, spec: ClientSpec) -> ClientOut:
    """Replace a client's registration (its id and secret stay)."""
    client = session.get(Client, client_id)
    if client is None:
        raise ClientSpecError("invalid_client_id", f"No client {client_id!r}.")
    spec = validated_spec(session=session, spec=spec)
    old_method = client.auth_method
    _apply(client, spec)
    if spec.auth_method != old_method and spec.auth_method != "client_secret_basic":
        client.secret_hash = None
    if spec.auth_method == "client_secret_basic" and not client.secret_hash:
        raise ClientSpecError("invalid_client_auth", "Rotate a secret with the CLI first.")
    session.flush()
    return _out(client)


def rotate_secret(*, session: Session, settings: Settings, client_id: str) -> str:
    """A new secret for a client_secret_basic client; the old one stops working at once."""
    client = session.get(Client, client_id)
    if client is None:
        raise ClientSpecError("invalid_client_id", f"No client {client_id!r}.")
    secret = random_token(32)
    client.auth_method = "client_secret_basic"
    client.jwks = None
    client.jwks_uri = None
    client.secret_hash = _secret_hash(settings, client_id, secret)
    client.updated_at = utcnow()
    session.flush()
    return secret


def get_client(*, session: Session, client_id: str) -> ClientOut | None:
    """A registered client, or None."""
    client = session.get(Client, client_id) if isinstance(client_id, str) else None
    return _out(client) if client is not None else None


def list_clients(*, session: Session, agency_id: str | None = None) -> list[ClientOut]:
    """Registered clients, optionally of one agency."""
    query = select(Client).order_by(Client.client_id)
    if agency_id:
        query = query.where(Client.agency_id == agency_id)
    return [_out(c) for c in session.scalars(query)]


def active_client(*, session: Session, client_id: str | None) -> Client | None:
    """The active client row with this id (for the provider's own modules)."""
    if not client_id or len(client_id) > 64:
        return None
    client = session.get(Client, client_id)
    return client if client is not None and client.status == "active" else None


# --- client authentication ------------------------------------------------------------------


def _basic_credentials(authorization: str) -> tuple[str, str]:
    try:
        raw = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError) as error:
        raise invalid_client("Malformed Basic credentials.", basic=True) from error
    client_id, sep, secret = raw.partition(":")
    if not sep:
        raise invalid_client("Malformed Basic credentials.", basic=True)
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def _fetch_jwks(uri: str) -> dict[str, Any]:
    now = time.monotonic()
    cached = _jwks_uri_cache.get(uri)
    if cached and cached[0] > now:
        return cached[1]
    try:
        response = httpx.get(uri, timeout=3.0, follow_redirects=False)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise invalid_client("The client's jwks_uri could not be read.") from error
    with _jwks_lock:
        _jwks_uri_cache[uri] = (now + _JWKS_URI_TTL, document)
    return document


def _client_keys(client: Client) -> KeySet:
    document = client.jwks if client.jwks else _fetch_jwks(str(client.jwks_uri))
    try:
        keys = [k for k in document.get("keys", []) if isinstance(k, dict) and "d" not in k]
        return KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError, AttributeError) as error:
        raise invalid_client("The client's registered keys are unusable.") from error


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        compact = jws.extract_compact(token.encode())
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError) as error:
        raise invalid_client("The client assertion is not a compact JWS.") from error
    if not isinstance(claims, dict):
        raise invalid_client("The client assertion claims are not an object.")
    return dict(compact.headers()), claims


def _check_assertion(*, session: Session, client: Client, token: str, audiences: set[str]) -> None:
    header, _ = _unverified(token)
    alg = header.get("alg")
    if alg not in ASYMMETRIC_ALGS:
        raise invalid_client(f"Assertion algorithm {alg!r} is not allowed.")
    try:
        claims = dict(jwt.decode(token, _client_keys(client), algorithms=[alg]).claims)
    except (JoseError, ValueError) as error:
        raise invalid_client("The client assertion signature does not verify.") from error
    now = utcnow().timestamp()
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise invalid_client("Assertion iss and sub must both be the client_id.")
    aud = claims.get("aud")
    aud_list = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and a in audiences for a in aud_list):
        raise invalid_client("Assertion audience must be this server's issuer or endpoint.")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= now - CLOCK_SKEW.total_seconds():
        raise invalid_client("The client assertion has expired or lacks exp.")
    if exp > now + MAX_ASSERTION_LIFETIME.total_seconds():
        raise invalid_client("The client assertion lives too long.")
    iat = claims.get("iat")
    if iat is not None and (
        not isinstance(iat, int | float) or iat > now + CLOCK_SKEW.total_seconds()
    ):
        raise invalid_client("The client assertion is issued in the future.")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and nbf > now + CLOCK_SKEW.total_seconds():
        raise invalid_client("The client assertion is not yet valid.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise invalid_client("The client assertion needs a jti.")
    expires = utcnow() + timedelta(seconds=max(exp - now, 0)) + CLOCK_SKEW
    if not replay.first_use(
        session=session,
        kind="client-assertion",
        issuer=client.client_id,
        jti=jti,
        expires_at=expires,
    ):
        raise invalid_client("The client assertion was already used.")


def authenticate_client(
    *,
    session: Session,
    settings: Settings,
    authorization: str | None,
    form: Mapping[str, str],
    audiences: set[str],
) -> Client:
    """The client calling a token-family endpoint, authenticated; `invalid_client` otherwise."""
    assertion_type = form.get("client_assertion_type")
    assertion = form.get("client_assertion")
    if "client_secret" in form:
        raise invalid_client("client_secret_post is not supported; use Basic or private_key_jwt.")
    if authorization and authorization[:6].lower() == "basic ":
        if assertion or assertion_type:
            raise OAuthError("invalid_request", "Use exactly one client authentication method.")
        client_id, secret = _basic_credentials(authorization)
        client = active_client(session=session, client_id=client_id)
        if form.get("client_id") not in (None, client_id):
            raise invalid_client("client_id does not match the credentials.", basic=True)
        if client is None or client.auth_method != "client_secret_basic" or not client.secret_hash:
            raise invalid_client("Client authentication failed.", basic=True)
        expected = _secret_hash(settings, client_id, secret)
        if not hmac.compare_digest(expected, client.secret_hash):
            raise invalid_client("Client authentication failed.", basic=True)
        return client
    if assertion_type or assertion:
        if assertion_type != ASSERTION_TYPE or not assertion:
            raise invalid_client("Unsupported client assertion type.")
        _, claims = _unverified(assertion)
        client_id = claims.get("iss") if isinstance(claims.get("iss"), str) else None
        if form.get("client_id") not in (None, client_id):
            raise invalid_client("client_id does not match the assertion.")
        client = active_client(session=session, client_id=client_id)
        if client is None or client.auth_method != "private_key_jwt":
            raise invalid_client("Client authentication failed.")
        _check_assertion(session=session, client=client, token=assertion, audiences=audiences)
        return client
    raise invalid_client("Client authentication is required.")


def allowed_user_scopes(client: Client) -> list[str]:
    """The resident-data scopes this client may ask for."""
    return [s for s in client.scopes if s in USER_SCOPES]
