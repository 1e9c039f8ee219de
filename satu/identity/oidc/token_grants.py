"""The token endpoint's grants: authorization_code, refresh_token and client_credentials.

A code is redeemed once (PKCE S256, same redirect_uri, same DPoP key); presenting it again
revokes every token issued from it. A refresh token rotates on every use and a rotated-out
one presented again revokes the whole family (RFC 9700 reuse detection). client_credentials
tokens form no family. Each grant returns the token response and its grant row. Callers use
these through `tokens`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import utcnow
from satu.identity import service as identity
from satu.identity.oidc.errors import OAuthError
from satu.identity.oidc.models import AuthorizationCode, Client, Grant, RefreshToken
from satu.identity.oidc.scopes import ADMIN_SCOPES
from satu.identity.oidc.token_issuing import (
    _access_token,
    _id_token,
    _refresh_token,
    _response,
    _wants_refresh,
)
from satu.identity.oidc.token_status import revoke_grant
from satu.identity.oidc.util import sha256_b64url, sha256_hex

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def exchange_code(
    *,
    session: Session,
    settings: Settings,
    client: Client,
    form: Mapping[str, str],
    jkt: str | None,
) -> tuple[dict[str, Any], Grant]:
    """The authorization_code grant: redeem a code once for tokens."""
    code = form.get("code")
    redirect_uri = form.get("redirect_uri")
    verifier = form.get("code_verifier")
    if not code or not redirect_uri:
        raise OAuthError("invalid_request", "code and redirect_uri are required.")
    if not verifier:
        raise OAuthError("invalid_request", "code_verifier is required (PKCE).")
    if not _VERIFIER.match(verifier):
        raise OAuthError("invalid_grant", "code_verifier is malformed.")
    row = session.get(AuthorizationCode, sha256_hex(code))
    if row is None or row.client_id != client.client_id:
        raise OAuthError("invalid_grant", "The authorization code is invalid.")
    now = utcnow()
    if row.used_at is not None:
        if row.grant_id:
            revoke_grant(session=session, grant_id=row.grant_id, reason="code-replay")
        raise OAuthError("invalid_grant", "The authorization code was already used.")
    if row.expires_at <= now:
        raise OAuthError("invalid_grant", "The authorization code has expired.")
    if row.redirect_uri != redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request.")
    if sha256_b64url(verifier) != row.code_challenge:
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge.")
    if row.dpop_jkt and jkt != row.dpop_jkt:
        raise OAuthError("invalid_dpop_proof", "The DPoP key differs from the one authorized.")
    claimed = session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_hash == row.code_hash, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise OAuthError("invalid_grant", "The authorization code was already used.")
    grant = Grant(
        id=str(uuid.uuid4()),
        client_id=client.client_id,
        account_id=row.account_id,
        scope=row.scope,
        acr=row.acr,
        amr=list(row.amr),
        auth_time=row.auth_time,
        login_session_id=row.login_session_id,
        dpop_jkt=jkt,
        created_at=now,
    )
    session.add(grant)
    session.flush()
    session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_hash == row.code_hash)
        .values(grant_id=grant.id)
    )
    scopes = row.scope.split()
    access, expires_in = _access_token(
        session=session, settings=settings, client=client, grant=grant, scope=row.scope
    )
    id_token = None
    if "openid" in scopes:
        id_token = _id_token(
            session=session,
            settings=settings,
            client=client,
            grant=grant,
            nonce=row.nonce,
            access_token=access,
        )
    refresh = (
        _refresh_token(session=session, grant=grant) if _wants_refresh(client, scopes) else None
    )
    session.flush()
    body = _response(
        access_token=access,
        expires_in=expires_in,
        scope=row.scope,
        dpop=jkt is not None,
        id_token=id_token,
        refresh_token=refresh,
    )
    return body, grant


def refresh(
    *,
    session: Session,
    settings: Settings,
    client: Client,
    form: Mapping[str, str],
    jkt: str | None,
) -> tuple[dict[str, Any], Grant]:
    """The refresh_token grant: rotate the refresh token; reuse revokes the family."""
    if "refresh_token" not in client.grant_types:
        raise OAuthError("unauthorized_client", "This client may not use refresh tokens.")
    token = form.get("refresh_token")
    if not token:
        raise OAuthError("invalid_request", "refresh_token is required.")
    row = session.get(RefreshToken, sha256_hex(token))
    grant = session.get(Grant, row.grant_id) if row is not None else None
    if row is None or grant is None or grant.client_id != client.client_id:
        raise OAuthError("invalid_grant", "The refresh token is invalid.")
    now = utcnow()
    if row.used_at is not None:
        revoke_grant(session=session, grant_id=grant.id, reason="refresh-reuse")
        raise OAuthError("invalid_grant", "The refresh token was already used; family revoked.")
    if row.revoked_at is not None or grant.revoked_at is not None:
        raise OAuthError("invalid_grant", "The refresh token has been revoked.")
    if row.expires_at <= now:
        raise OAuthError("invalid_grant", "The refresh token has expired.")
    account = identity.find_account(session=session, account_id=grant.account_id or "")
    if account is None or account.status != "active":
        revoke_grant(session=session, grant_id=grant.id, reason="account-inactive")
        raise OAuthError("invalid_grant", "The account is no longer active.")
    if grant.dpop_jkt and jkt != grant.dpop_jkt:
        raise OAuthError("invalid_dpop_proof", "A DPoP proof with the bound key is required.")
    scopes = grant.scope.split()
    requested = form.get("scope")
    scope = grant.scope
    if requested:
        wanted = requested.split()
        if not set(wanted) <= set(scopes):
            raise OAuthError("invalid_scope", "A refresh may only narrow the granted scope.")
        scope = " ".join(s for s in scopes if s in wanted)
    claimed = session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == row.token_hash, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        revoke_grant(session=session, grant_id=grant.id, reason="refresh-reuse")
        raise OAuthError("invalid_grant", "The refresh token was already used; family revoked.")
    access, expires_in = _access_token(
        session=session, settings=settings, client=client, grant=grant, scope=scope
    )
    id_token = None
    if "openid" in scope.split():
        id_token = _id_token(
            session=session,
            settings=settings,
            client=client,
            grant=grant,
            nonce=None,
            access_token=access,
        )
    new_refresh = _refresh_token(session=session, grant=grant)
    session.flush()
    body = _response(
        access_token=access,
        expires_in=expires_in,
        scope=scope,
        dpop=grant.dpop_jkt is not None,
        id_token=id_token,
        refresh_token=new_refresh,
    )
    return body, grant


def client_credentials(
    *,
    session: Session,
    settings: Settings,
    client: Client,
    form: Mapping[str, str],
    jkt: str | None,
) -> tuple[dict[str, Any], Grant]:
    """The client_credentials grant for agency systems (no resident involved)."""
    if "client_credentials" not in client.grant_types:
        raise OAuthError("unauthorized_client", "This client may not use client_credentials.")
    machine_scopes = [s for s in client.scopes if s in ADMIN_SCOPES]
    requested = form.get("scope")
    if requested:
        wanted = list(dict.fromkeys(requested.split()))
        if not set(wanted) <= set(machine_scopes):
            raise OAuthError("invalid_scope", "Scope not allowed for client_credentials.")
    else:
        wanted = machine_scopes
    scope = " ".join(wanted)
    # A transient grant: client_credentials tokens form no family (no refresh, no resident).
    grant = Grant(
        id=str(uuid.uuid4()),
        client_id=client.client_id,
        account_id=None,
        scope=scope,
        dpop_jkt=jkt,
        created_at=utcnow(),
    )
    access, expires_in = _access_token(
        session=session, settings=settings, client=client, grant=grant, scope=scope, family=False
    )
    body = _response(access_token=access, expires_in=expires_in, scope=scope, dpop=jkt is not None)
    return body, grant
