"""Access rules of the provider's machine endpoints: an authenticated client, a bearer token.

`oauth_client` authenticates the calling client (private_key_jwt or client_secret_basic) and
hands the route either the client or the OAuth error to answer with, so the route can audit
the failure before answering. `bearer_token` checks an access token (Bearer or DPoP-bound).
`client_manager` is a bearer token carrying a client-management scope. `resident_token_nik`
is the same check for a resource server that serves a resident's own app (authorization-code
tokens holding one scope).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from satu.core.auth import access_rule
from satu.core.db import DbSession
from satu.identity import service as identity
from satu.identity.oidc.clients import authenticate_client
from satu.identity.oidc.dpop import (
    NONCE_HEADER,
    DPoPError,
    DPoPNonceError,
    current_nonce,
    nonce_required,
    proof_header,
    verify_proof,
)
from satu.identity.oidc.errors import BearerError, OAuthError
from satu.identity.oidc.models import Client
from satu.identity.oidc.scopes import USER_SCOPES
from satu.identity.oidc.tokens import AccessInfo, subject_for, validate_access_token
from satu.identity.oidc.util import endpoint, issuer_of, settings_of

FORM_STATE = "oauth_form"


@dataclass
class ClientAuth:
    """The outcome of client authentication: a client, or the error to answer with."""

    client: Client | None
    error: OAuthError | None
    form: dict[str, str]
    attempted_client_id: str | None


async def oauth_form(request: Request) -> dict[str, str]:
    """The request's form parameters; a parameter sent twice is refused (RFC 6749 3.1)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        request.state.oauth_form_error = OAuthError(
            "invalid_request", "Send parameters as application/x-www-form-urlencoded."
        )
        return {}
    form = await request.form()
    values: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue
        if key in values:
            request.state.oauth_form_error = OAuthError(
                "invalid_request", f"Parameter {key} is repeated."
            )
            return {}
        values[key] = value
    return values


def token_audiences(request: Request, path: str) -> set[str]:
    """The audiences a client assertion may name: our issuer or the configured endpoint URL.

    Never the URL the request arrived at: that follows the client-controlled Host header.
    """
    settings = settings_of(request)
    return {
        issuer_of(settings),
        issuer_of(settings) + "/",
        endpoint(settings, path),
        endpoint(settings, "/oauth/token"),
    }


@access_rule("oauth_client")
def oauth_client(
    request: Request, session: DbSession, form: dict[str, str] = Depends(oauth_form)
) -> ClientAuth:
    """The client calling this endpoint, authenticated (or the error explaining why not)."""
    attempted = form.get("client_id")
    form_error = getattr(request.state, "oauth_form_error", None)
    if form_error is not None:
        return ClientAuth(None, form_error, form, attempted)
    try:
        client = authenticate_client(
            session=session,
            settings=settings_of(request),
            authorization=request.headers.get("authorization"),
            form=form,
            audiences=token_audiences(request, request.url.path),
        )
    except OAuthError as error:
        return ClientAuth(None, error, form, attempted)
    return ClientAuth(client, None, form, client.client_id)


def request_urls(request: Request) -> tuple[str, str]:
    """This request's URL as the public issuer names it, and as the server received it."""
    settings = settings_of(request)
    return endpoint(settings, request.url.path), str(request.url.replace(query="", fragment=""))


def dpop_jkt(
    *,
    session: Session,
    request: Request,
    access_token: str | None = None,
    client: Client | None = None,
) -> str | None:
    """The key thumbprint of a valid DPoP proof on this request, None without a proof.

    Raises `DPoPNonceError` when `client` must use server nonces and the proof lacks a
    current one.
    """
    proof = proof_header(request.headers.getlist("dpop"))
    if proof is None:
        return None
    public_url, received_url = request_urls(request)
    nonce_settings = settings_of(request) if nonce_required(client) else None
    try:
        return verify_proof(
            session=session,
            proof=proof,
            method=request.method,
            url=public_url,
            access_token=access_token,
            nonce_settings=nonce_settings,
        )
    except DPoPNonceError:
        raise  # right URL, only the nonce is missing: the client should retry with one
    except DPoPError:
        if received_url == public_url:
            raise
    return verify_proof(
        session=session,
        proof=proof,
        method=request.method,
        url=received_url,
        access_token=access_token,
        nonce_settings=nonce_settings,
    )


def nonce_headers(request: Request, client: Client | None) -> dict[str, str]:
    """A fresh `DPoP-Nonce` header when this client must use server nonces."""
    if not nonce_required(client):
        return {}
    return {NONCE_HEADER: current_nonce(settings_of(request))}


def dpop_oauth_error(request: Request, client: Client | None, error: DPoPError) -> OAuthError:
    """The token/PAR endpoint error for a bad proof: `use_dpop_nonce` with a fresh nonce."""
    if isinstance(error, DPoPNonceError):
        return OAuthError(
            "use_dpop_nonce",
            str(error),
            headers={NONCE_HEADER: current_nonce(settings_of(request))},
        )
    return OAuthError("invalid_dpop_proof", str(error), headers=nonce_headers(request, client))


def _token_from_header(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization")
    if not header:
        raise BearerError("invalid_request", "An access token is required.")
    scheme, _, token = header.partition(" ")
    scheme = scheme.lower()
    token = token.strip()
    if scheme not in ("bearer", "dpop") or not token:
        raise BearerError("invalid_request", "Use the Bearer or DPoP authorization scheme.")
    return ("DPoP" if scheme == "dpop" else "Bearer"), token


def check_bearer(*, session: Session, request: Request) -> AccessInfo:
    """A valid access token on this request, with its DPoP binding honoured."""
    scheme, token = _token_from_header(request)
    info = validate_access_token(session=session, settings=settings_of(request), token=token)
    if info is None:
        raise BearerError(
            "invalid_token", "The access token is invalid, expired or revoked.", scheme=scheme
        )
    if info.jkt:
        if scheme != "DPoP":
            raise BearerError(
                "invalid_token", "This token is DPoP-bound; use the DPoP scheme.", scheme="DPoP"
            )
        client = session.get(Client, info.client_id)
        try:
            jkt = dpop_jkt(session=session, request=request, access_token=token, client=client)
        except DPoPNonceError as error:
            nonce_error = BearerError("use_dpop_nonce", str(error), scheme="DPoP")
            nonce_error.extra_headers[NONCE_HEADER] = current_nonce(settings_of(request))
            raise nonce_error from error
        except DPoPError as error:
            raise BearerError("invalid_dpop_proof", str(error), scheme="DPoP") from error
        if jkt is None:
            raise BearerError("invalid_dpop_proof", "A DPoP proof is required.", scheme="DPoP")
        if jkt != info.jkt:
            raise BearerError(
                "invalid_dpop_proof", "The DPoP key does not match the token.", scheme="DPoP"
            )
    elif scheme == "DPoP":
        raise BearerError("invalid_token", "This token is not DPoP-bound; use Bearer.")
    return info


@access_rule("oauth_bearer")
def bearer_token(request: Request, session: DbSession) -> AccessInfo:
    """A valid access token (Bearer, or DPoP with a matching proof)."""
    return check_bearer(session=session, request=request)


@access_rule("client_manager")
def client_manager(request: Request, session: DbSession) -> AccessInfo:
    """An access token from an admin system holding a client-management scope."""
    info = check_bearer(session=session, request=request)
    wanted = "add_oidc_client" if request.method == "POST" else "update_oidc_client"
    if wanted not in info.scopes:
        error = BearerError(
            "insufficient_scope", f"The token needs the {wanted} scope.", status=403
        )
        raise error
    return info


def resident_token_nik(*, session: Session, request: Request, scope: str) -> str:
    """The NIK of the resident a token on this request speaks for; `BearerError` if none.

    The token (Bearer, or DPoP with a matching proof) must come from the authorization-code
    flow (or a refresh of it), of an active client, for an active account, and hold `scope`:
    else 401 `invalid_token`/`invalid_dpop_proof`/`use_dpop_nonce`, or 403 `insufficient_scope`.
    The pairwise `sub` is checked against the grant's account, never reversed.
    """
    if scope not in USER_SCOPES or scope == "openid":
        raise ValueError(f"{scope!r} is not a resident scope a resource server can require.")
    info = check_bearer(session=session, request=request)
    scheme = "DPoP" if info.jkt else "Bearer"
    if info.account_id is None or info.grant_id is None:
        raise BearerError(
            "invalid_token", "This token was not issued to a resident.", scheme=scheme
        )
    client = session.get(Client, info.client_id)
    if client is None or client.status != "active":
        raise BearerError("invalid_token", "The token's client is not active.", scheme=scheme)
    if info.claims.get("sub") != subject_for(settings_of(request), client, info.account_id):
        raise BearerError("invalid_token", "The token's subject does not match.", scheme=scheme)
    if scope not in info.scopes:
        raise BearerError(
            "insufficient_scope", f"The token needs the {scope} scope.", status=403, scheme=scheme
        )
    account = identity.find_account(session=session, account_id=info.account_id)
    if account is None or account.status != "active":
        raise BearerError("invalid_token", "The account is no longer active.", scheme=scheme)
    return account.resident_nik
