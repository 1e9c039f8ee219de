"""The authorization endpoint's logic: validate the request, sign-in, step-up, consent, code.

Errors that happen before the client and its exact redirect URI are known are shown to the
person (never redirected: no open redirects); later errors go back to the client as
`error` + `state` + `iss` (RFC 9207) on the registered redirect URI.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import utcnow
from satu.identity import service as identity
from satu.identity.oidc import keys
from satu.identity.oidc.clients import active_client
from satu.identity.oidc.models import Client, Consent, PushedRequest
from satu.identity.oidc.scopes import ACR_LEVELS, normalise_acr
from satu.identity.oidc.util import epoch, issuer_of, random_token, split_scope

PAR_TTL = timedelta(seconds=90)
PAR_BROWSER_TTL = timedelta(minutes=15)
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
LOGIN_AFTER = "_login_after"
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_PROMPTS = {"none", "login", "consent", "select_account"}
_MAX_PARAM = 2048


class FatalAuthError(ValueError):
    """An authorization request that cannot be answered by redirect (shown to the person)."""


@dataclass
class RedirectError(Exception):
    """An OAuth error sent back to the client's redirect URI."""

    error: str
    description: str
    redirect_uri: str
    state: str | None
    par_uri: str | None = None


@dataclass
class AuthRequest:
    """A validated authorization request."""

    client: Client
    redirect_uri: str
    state: str | None
    scopes: list[str]
    nonce: str | None
    code_challenge: str
    prompt: set[str]
    max_age: int | None
    acr_values: list[str]
    dpop_jkt: str | None
    par_uri: str | None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)


def redirect_to(redirect_uri: str, values: dict[str, str | None]) -> str:
    """`redirect_uri` with `values` added to its query."""
    query = urlencode({k: v for k, v in values.items() if v is not None})
    return redirect_uri + ("&" if "?" in redirect_uri else "?") + query


def error_location(settings: Settings, error: RedirectError) -> str:
    """Where to send the browser for an error redirect."""
    return redirect_to(
        error.redirect_uri,
        {
            "error": error.error,
            "error_description": error.description,
            "state": error.state,
            "iss": issuer_of(settings),
        },
    )


def push_request(
    *, session: Session, client: Client, params: dict[str, str], dpop_jkt: str | None
) -> tuple[str, int]:
    """Store a pushed authorization request (already validated); its request_uri and lifetime."""
    request_uri = REQUEST_URI_PREFIX + random_token(24)
    stored = dict(params)
    if dpop_jkt:
        if stored.get("dpop_jkt") not in (None, dpop_jkt):
            raise RedirectError(
                "invalid_dpop_proof", "dpop_jkt does not match the DPoP proof.", "", None
            )
        stored["dpop_jkt"] = dpop_jkt
    session.add(
        PushedRequest(
            request_uri=request_uri,
            client_id=client.client_id,
            parameters=stored,
            expires_at=utcnow() + PAR_TTL,
        )
    )
    session.flush()
    return request_uri, int(PAR_TTL.total_seconds())


def _single(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is not None and len(value) > _MAX_PARAM:
        raise FatalAuthError(f"The parameter {name} is too long.")
    return value or None


def _resolve_par(
    *, session: Session, client: Client, request_uri: str
) -> tuple[dict[str, str], str]:
    if not request_uri.startswith(REQUEST_URI_PREFIX):
        raise FatalAuthError("request_uri must come from the pushed authorization endpoint.")
    row = session.get(PushedRequest, request_uri)
    now = utcnow()
    if row is None or row.client_id != client.client_id:
        raise FatalAuthError("Unknown request_uri for this client.")
    if row.used_at is not None:
        raise FatalAuthError("This request_uri has already been used.")
    if row.expires_at <= now:
        raise FatalAuthError("This request_uri has expired; start again at the service.")
    if row.presented_at is None:
        row.presented_at = now
        row.expires_at = now + PAR_BROWSER_TTL
        session.flush()
    return dict(row.parameters), request_uri


def parse_request(
    *, session: Session, params: dict[str, str], pushed: bool = False, client: Client | None = None
) -> AuthRequest:
    """Validate an authorization request (from the query, a form, or a PAR body)."""
    if client is None:
        client_id = _single(params, "client_id")
        client = active_client(session=session, client_id=client_id)
        if client is None:
            raise FatalAuthError("Unknown or inactive client_id.")
    if "request" in params:
        raise FatalAuthError("Request objects are not supported; use pushed authorization.")
    par_uri = None
    request_uri = _single(params, "request_uri")
    if request_uri is not None:
        if pushed:
            raise FatalAuthError("request_uri is not allowed in a pushed request.")
        original = params
        params, par_uri = _resolve_par(session=session, client=client, request_uri=request_uri)
        if original.get("client_id") != client.client_id:
            raise FatalAuthError("client_id must accompany request_uri.")
        if LOGIN_AFTER in original:
            params[LOGIN_AFTER] = original[LOGIN_AFTER]
    redirect_uri = _single(params, "redirect_uri")
    if not redirect_uri or redirect_uri not in client.redirect_uris:
        raise FatalAuthError("redirect_uri is missing or not registered for this client.")
    state = _single(params, "state")

    def fail(error: str, description: str) -> RedirectError:
        return RedirectError(error, description, redirect_uri, state, par_uri)

    if client.require_par and par_uri is None and not pushed:
        raise fail("invalid_request", "This client must use pushed authorization requests.")
    if params.get("response_type") != "code":
        raise fail("unsupported_response_type", "Only response_type=code is supported.")
    if params.get("response_mode") not in (None, "", "query"):
        raise fail("invalid_request", "Only response_mode=query is supported.")
    if "authorization_code" not in client.grant_types:
        raise fail("unauthorized_client", "This client may not use the authorization code flow.")
    scopes = split_scope(_single(params, "scope"))
    if not scopes:
        raise fail("invalid_scope", "scope is required.")
    if any(s not in client.scopes for s in scopes) or any(
        s in ("add_oidc_client", "update_oidc_client") for s in scopes
    ):
        raise fail("invalid_scope", "A requested scope is not allowed for this client.")
    challenge = _single(params, "code_challenge")
    method = params.get("code_challenge_method")
    if not challenge:
        raise fail("invalid_request", "PKCE is required: send code_challenge (S256).")
    if method != "S256":
        raise fail("invalid_request", "code_challenge_method must be S256.")
    if not _CHALLENGE.match(challenge):
        raise fail("invalid_request", "code_challenge must be a base64url SHA-256 digest.")
    nonce = _single(params, "nonce")
    if nonce is not None and len(nonce) > 512:
        raise fail("invalid_request", "nonce is too long.")
    prompt = set((params.get("prompt") or "").split())
    if not prompt <= _PROMPTS or ("none" in prompt and len(prompt) > 1):
        raise fail("invalid_request", "Unsupported prompt value.")
    max_age: int | None = None
    if params.get("max_age") not in (None, ""):
        try:
            max_age = int(params["max_age"])
        except ValueError:
            max_age = -1
        if max_age < 0:
            raise fail("invalid_request", "max_age must be a non-negative integer.")
    acr_values = [a for a in (normalise_acr(v) for v in split_scope(params.get("acr_values"))) if a]
    dpop_jkt = _single(params, "dpop_jkt")
    return AuthRequest(
        client=client,
        redirect_uri=redirect_uri,
        state=state,
        scopes=scopes,
        nonce=nonce,
        code_challenge=challenge,
        prompt=prompt,
        max_age=max_age,
        acr_values=acr_values,
        dpop_jkt=dpop_jkt,
        par_uri=par_uri,
        params=params,
    )


def required_acr(auth: AuthRequest) -> str:
    """The level this request needs: the lowest it accepts, never below the client's floor."""
    floor = min((ACR_LEVELS.index(a) for a in auth.client.acr_values if a in ACR_LEVELS), default=0)
    asked = min((ACR_LEVELS.index(a) for a in auth.acr_values), default=floor)
    return ACR_LEVELS[max(floor, asked)]


def login_after_marker(settings: Settings) -> str:
    """A signed 'signed in after now' marker carried through the sign-in redirect."""
    now = str(epoch(utcnow()))
    return f"{now}.{keys.keyed_hash(settings, 'login-after', now)[:22]}"


def login_after(settings: Settings, value: str | None) -> int | None:
    """The time a valid marker names, else None."""
    if not value or "." not in value:
        return None
    stamp, _, mac = value.partition(".")
    expected = keys.keyed_hash(settings, "login-after", stamp)[:22]
    if not stamp.isdigit() or not hmac.compare_digest(mac, expected):
        return None
    return int(stamp)


def continuation(auth: AuthRequest, query: dict[str, str], marker: str | None) -> str:
    """The /authorize URL to come back to after sign-in."""
    params = {k: v for k, v in query.items() if k != LOGIN_AFTER}
    if marker:
        params[LOGIN_AFTER] = marker
    return "/authorize?" + urlencode(params)


def find_consent(*, session: Session, account_id: str, client_id: str) -> Consent | None:
    """The resident's standing consent for one client."""
    return session.scalars(
        select(Consent)
        .where(
            Consent.account_id == account_id,
            Consent.client_id == client_id,
            Consent.withdrawn_at.is_(None),
        )
        .order_by(Consent.granted_at.desc())
        .limit(1)
    ).first()


def consent_covers(consent: Consent | None, scopes: list[str]) -> bool:
    """Whether a standing consent already covers every requested scope."""
    return consent is not None and set(scopes) <= set(consent.scopes)


def record_consent(*, session: Session, account_id: str, client_id: str, scopes: list[str]) -> None:
    """Remember that the resident agreed to share `scopes` with the client."""
    existing = find_consent(session=session, account_id=account_id, client_id=client_id)
    merged = list(dict.fromkeys([*(existing.scopes if existing else []), *scopes]))
    if existing is not None:
        existing.withdrawn_at = utcnow()
    session.add(
        Consent(account_id=account_id, client_id=client_id, scopes=merged, granted_at=utcnow())
    )
    session.flush()


def finish_par(*, session: Session, par_uri: str | None) -> None:
    """Mark a pushed request used once it has produced a code or an error."""
    if par_uri:
        session.execute(
            update(PushedRequest)
            .where(PushedRequest.request_uri == par_uri)
            .values(used_at=utcnow())
        )


def acr_satisfied(have: str, want: str) -> bool:
    """Whether a sign-in at `have` meets level `want`."""
    return identity.acr_satisfies(have, want)
