"""The provider's protocol endpoints: discovery, JWKS, PAR, token, userinfo, revocation,
introspection. Errors use OAuth's JSON format (`error`, `error_description`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from satu.core.auth import public
from satu.core.db import DbSession
from satu.identity import service as identity
from satu.identity.audit import client_ip
from satu.identity.oidc import authorize, keys, revocation, tokens
from satu.identity.oidc.access import (
    ClientAuth,
    bearer_token,
    dpop_jkt,
    dpop_oauth_error,
    nonce_headers,
    oauth_client,
)
from satu.identity.oidc.claims import resident_claims
from satu.identity.oidc.dpop import DPoPError
from satu.identity.oidc.errors import NO_STORE, BearerError, OAuthError, OAuthRoute
from satu.identity.oidc.scopes import (
    ACR_LEVELS,
    SUPPORTED_CLAIMS,
    SUPPORTED_SCOPES,
)
from satu.identity.oidc.tokens import AccessInfo
from satu.identity.oidc.util import ASYMMETRIC_ALGS, endpoint, issuer_of, settings_of

router = APIRouter(route_class=OAuthRoute, tags=["openid-connect"])


def _audit(
    session: Session,
    request: Request,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    identity.record_audit(
        session=session,
        actor=actor,
        action=action,
        target=target,
        ip=client_ip(request),
        detail=detail,
    )


def _refuse(
    session: Session, request: Request, auth: ClientAuth, action: str, error: OAuthError
) -> JSONResponse:
    if error.error == "use_dpop_nonce":  # the nonce exchange of RFC 9449, not a failure
        return error.response()
    actor = f"client:{auth.attempted_client_id}" if auth.attempted_client_id else "anonymous"
    _audit(
        session,
        request,
        actor=actor[:120],
        action=action,
        detail={"error": error.error, "description": error.description},
    )
    return error.response()


def metadata(request: Request) -> dict[str, Any]:
    """The OpenID Provider Metadata (Discovery 1.0, RFC 8414, RFC 9126, RFC 9449)."""
    settings = settings_of(request)

    def url(path: str) -> str:
        return endpoint(settings, path)

    auth_methods = ["private_key_jwt", "client_secret_basic"]
    return {
        "issuer": issuer_of(settings),
        "authorization_endpoint": url("/authorize"),
        "token_endpoint": url("/oauth/token"),
        "userinfo_endpoint": url("/oidc/userinfo"),
        "jwks_uri": url("/.well-known/jwks.json"),
        "pushed_authorization_request_endpoint": url("/oauth/par"),
        "revocation_endpoint": url("/oauth/revoke"),
        "introspection_endpoint": url("/oauth/introspect"),
        "end_session_endpoint": url("/oidc/logout"),
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": [keys.SIGNING_ALG],
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": list(ASYMMETRIC_ALGS),
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASYMMETRIC_ALGS),
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASYMMETRIC_ALGS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(SUPPORTED_CLAIMS),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_pushed_authorization_requests": False,
        "authorization_response_iss_parameter_supported": True,
        "dpop_signing_alg_values_supported": list(ASYMMETRIC_ALGS),
        "acr_values_supported": list(ACR_LEVELS),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": ["id", "en"],
        "claims_locales_supported": ["id"],
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
    }


@router.get("/.well-known/openid-configuration")
def discovery(request: Request, _: None = Depends(public)) -> JSONResponse:
    """OpenID Provider configuration (Discovery 1.0)."""
    return JSONResponse(metadata(request), headers={"Cache-Control": "public, max-age=300"})


@router.get("/.well-known/oauth-authorization-server")
def oauth_metadata(request: Request, _: None = Depends(public)) -> JSONResponse:
    """The same metadata for RFC 8414 clients."""
    return JSONResponse(metadata(request), headers={"Cache-Control": "public, max-age=300"})


@router.get("/.well-known/jwks.json")
def jwks(request: Request, session: DbSession, _: None = Depends(public)) -> JSONResponse:
    """The public signing keys (active and recently retired)."""
    body = keys.jwks(session=session)
    if not body["keys"]:
        # The very first request of a fresh install creates the first key.
        keys.active_signing_key(session=session, settings=settings_of(request))
        body = keys.jwks(session=session)
    return JSONResponse(
        body,
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=60"},
    )


def _dpop_for_token(session: Session, request: Request, auth: ClientAuth) -> str | None:
    assert auth.client is not None
    try:
        jkt = dpop_jkt(session=session, request=request, client=auth.client)
    except DPoPError as error:
        raise dpop_oauth_error(request, auth.client, error) from error
    if jkt is None and auth.client.require_dpop:
        raise OAuthError(
            "invalid_dpop_proof",
            "This client must present a DPoP proof.",
            headers=nonce_headers(request, auth.client),
        )
    return jkt


@router.post("/oauth/token")
def token(
    request: Request, session: DbSession, auth: ClientAuth = Depends(oauth_client)
) -> Response:
    """The token endpoint: authorization_code, refresh_token and client_credentials grants."""
    if auth.error is not None or auth.client is None:
        return _refuse(
            session,
            request,
            auth,
            "oidc.token.refused",
            auth.error or OAuthError("invalid_client", "Client authentication failed."),
        )
    settings = settings_of(request)
    client = auth.client
    grant_type = auth.form.get("grant_type")
    try:
        jkt = _dpop_for_token(session, request, auth)
        if grant_type == "authorization_code":
            body, grant = tokens.exchange_code(
                session=session, settings=settings, client=client, form=auth.form, jkt=jkt
            )
        elif grant_type == "refresh_token":
            body, grant = tokens.refresh(
                session=session, settings=settings, client=client, form=auth.form, jkt=jkt
            )
        elif grant_type == "client_credentials":
            body, grant = tokens.client_credentials(
                session=session, settings=settings, client=client, form=auth.form, jkt=jkt
            )
        elif not grant_type:
            raise OAuthError("invalid_request", "grant_type is required.")
        else:
            raise OAuthError(
                "unsupported_grant_type", f"grant_type {grant_type!r} is not supported."
            )
    except OAuthError as error:
        return _refuse(session, request, auth, "oidc.token.refused", error)
    _audit(
        session,
        request,
        actor=f"client:{client.client_id}",
        action="oidc.token.issued",
        target=f"account:{grant.account_id}" if grant.account_id else None,
        detail={
            "grant_type": grant_type,
            "grant": grant.id if grant_type != "client_credentials" else None,
            "scope": body["scope"],
            "dpop": jkt is not None,
        },
    )
    return JSONResponse(body, headers={**NO_STORE, **nonce_headers(request, client)})


@router.post("/oauth/par")
def pushed_authorization(
    request: Request, session: DbSession, auth: ClientAuth = Depends(oauth_client)
) -> Response:
    """Pushed authorization requests (RFC 9126): validate now, redeem once at /authorize."""
    if auth.error is not None or auth.client is None:
        return _refuse(
            session,
            request,
            auth,
            "oidc.par.refused",
            auth.error or OAuthError("invalid_client", "Client authentication failed."),
        )
    client = auth.client
    params = {
        k: v
        for k, v in auth.form.items()
        if k not in ("client_assertion", "client_assertion_type", "client_secret")
    }
    params["client_id"] = client.client_id
    try:
        if "request_uri" in params:
            raise OAuthError("invalid_request", "request_uri is not allowed in a pushed request.")
        try:
            jkt = dpop_jkt(session=session, request=request, client=client)
        except DPoPError as error:
            raise dpop_oauth_error(request, client, error) from error
        try:
            authorize.parse_request(session=session, params=params, pushed=True, client=client)
        except authorize.FatalAuthError as error:
            raise OAuthError("invalid_request", str(error)) from error
        except authorize.RedirectError as error:
            raise OAuthError(error.error, error.description) from error
        try:
            request_uri, expires_in = authorize.push_request(
                session=session, client=client, params=params, dpop_jkt=jkt
            )
        except authorize.RedirectError as error:
            raise OAuthError(error.error, error.description) from error
    except OAuthError as error:
        return _refuse(session, request, auth, "oidc.par.refused", error)
    return JSONResponse(
        {"request_uri": request_uri, "expires_in": expires_in},
        status_code=201,
        headers={**NO_STORE, **nonce_headers(request, client)},
    )


def _userinfo(request: Request, session: Session, info: AccessInfo) -> Response:
    if info.account_id is None or "openid" not in info.scopes:
        raise BearerError(
            "insufficient_scope", "The token was not issued for a resident.", status=403
        )
    claims = resident_claims(
        session=session,
        settings=settings_of(request),
        account_id=info.account_id,
        scopes=info.scopes,
    )
    if claims is None:
        raise BearerError("invalid_token", "The account is no longer active.")
    body = {"sub": info.claims["sub"], **claims}
    return JSONResponse(body, headers=NO_STORE)


@router.get("/oidc/userinfo")
def userinfo_get(
    request: Request, session: DbSession, info: AccessInfo = Depends(bearer_token)
) -> Response:
    """Claims about the signed-in resident, limited to the token's scopes (OIDC Core 5.3)."""
    return _userinfo(request, session, info)


@router.post("/oidc/userinfo")
def userinfo_post(
    request: Request, session: DbSession, info: AccessInfo = Depends(bearer_token)
) -> Response:
    """Userinfo by POST (OIDC Core 5.3.1)."""
    return _userinfo(request, session, info)


@router.post("/oauth/revoke")
def revoke(
    request: Request, session: DbSession, auth: ClientAuth = Depends(oauth_client)
) -> Response:
    """Token revocation (RFC 7009); unknown tokens are answered 200 as the RFC says."""
    if auth.error is not None or auth.client is None:
        return _refuse(
            session,
            request,
            auth,
            "oidc.revoke.refused",
            auth.error or OAuthError("invalid_client", "Client authentication failed."),
        )
    value = auth.form.get("token")
    try:
        if not value:
            raise OAuthError("invalid_request", "token is required.")
        grant_id = revocation.revoke_token(
            session=session,
            settings=settings_of(request),
            client=auth.client,
            token=value,
            hint=auth.form.get("token_type_hint"),
        )
    except OAuthError as error:
        return _refuse(session, request, auth, "oidc.revoke.refused", error)
    if grant_id:
        _audit(
            session,
            request,
            actor=f"client:{auth.client.client_id}",
            action="oidc.token.revoked",
            detail={"grant": grant_id},
        )
    return Response(status_code=200, headers=NO_STORE)


@router.post("/oauth/introspect")
def introspect(
    request: Request, session: DbSession, auth: ClientAuth = Depends(oauth_client)
) -> Response:
    """Token introspection (RFC 7662) for authenticated clients (resource servers)."""
    if auth.error is not None or auth.client is None:
        return _refuse(
            session,
            request,
            auth,
            "oidc.introspect.refused",
            auth.error or OAuthError("invalid_client", "Client authentication failed."),
        )
    value = auth.form.get("token")
    if not value:
        return OAuthError("invalid_request", "token is required.").response()
    body = revocation.introspect(
        session=session,
        settings=settings_of(request),
        client=auth.client,
        token=value,
        hint=auth.form.get("token_type_hint"),
    )
    return JSONResponse(body, headers=NO_STORE)
