"""Codes, grants and tokens: issuing, exchanging, rotating, revoking and introspecting.

- Authorization codes: random, stored as SHA-256, single use, 60 s, bound to client,
  redirect_uri, PKCE S256 challenge, nonce and (optionally) a DPoP key. Presenting a used
  code again revokes every token issued from it.
- Access tokens: ES256-signed JWTs in the RFC 9068 profile (`typ: at+jwt`), 5 minutes,
  recorded by `jti` so they can be revoked and introspected; DPoP-bound ones carry `cnf.jkt`.
- Refresh tokens: random, stored as SHA-256, one family per grant, rotated on every use; a
  rotated-out token presented again revokes the whole family (RFC 9700 reuse detection).
- ID tokens: ES256, 5 minutes, pairwise `sub` per agency.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import utcnow
from satu.identity import service as identity
from satu.identity.oidc import keys
from satu.identity.oidc.errors import OAuthError
from satu.identity.oidc.models import (
    AccessToken,
    AuthorizationCode,
    Client,
    Grant,
    RefreshToken,
)
from satu.identity.oidc.scopes import ADMIN_SCOPES
from satu.identity.oidc.util import (
    b64url,
    epoch,
    issuer_of,
    random_token,
    sha256_b64url,
    sha256_hex,
)
from satu.identity.schemas import AccessTokenInfo

CODE_TTL = timedelta(seconds=60)
ACCESS_TOKEN_TTL = timedelta(minutes=5)
ID_TOKEN_TTL = timedelta(minutes=5)
REFRESH_TOKEN_TTL = timedelta(days=30)
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")

assert max(ACCESS_TOKEN_TTL, ID_TOKEN_TTL) <= keys.LONGEST_SIGNED_TOKEN


@dataclass(frozen=True)
class AccessInfo:
    """A valid access token's facts, for userinfo and protected resources."""

    claims: dict[str, Any]
    grant_id: str | None
    client_id: str
    account_id: str | None
    scopes: list[str]
    jkt: str | None


def pairwise_sub(*, settings: Settings, sector: str, account_id: str) -> str:
    """The subject identifier of `account_id` for one sector (an agency): stable, unlinkable."""
    return keys.keyed_hash(settings, "pairwise-sub", sector, account_id)


def session_sid(*, settings: Settings, login_session_id: str) -> str:
    """The `sid` claim for a login session (not the session's own id)."""
    return keys.keyed_hash(settings, "sid", login_session_id)[:32]


def issue_code(
    *,
    session: Session,
    client_id: str,
    account_id: str,
    redirect_uri: str,
    scope: str,
    nonce: str | None,
    code_challenge: str,
    acr: str,
    amr: list[str],
    auth_time: datetime,
    login_session_id: str | None,
    dpop_jkt: str | None,
) -> str:
    """A fresh authorization code for a signed-in resident who consented."""
    code = random_token(32)
    session.add(
        AuthorizationCode(
            code_hash=sha256_hex(code),
            client_id=client_id,
            account_id=account_id,
            redirect_uri=redirect_uri,
            scope=scope,
            nonce=nonce,
            code_challenge=code_challenge,
            acr=acr,
            amr=list(amr),
            auth_time=auth_time,
            login_session_id=login_session_id,
            dpop_jkt=dpop_jkt,
            expires_at=utcnow() + CODE_TTL,
        )
    )
    session.flush()
    return code


def subject_for(settings: Settings, client: Client, account_id: str | None) -> str:
    if account_id is None:
        return client.client_id
    return pairwise_sub(settings=settings, sector=client.agency_id, account_id=account_id)


def _access_token(
    *,
    session: Session,
    settings: Settings,
    client: Client,
    grant: Grant,
    scope: str,
    family: bool = True,
) -> tuple[str, int]:
    now = utcnow()
    jti = random_token(18)
    expires = now + ACCESS_TOKEN_TTL
    claims: dict[str, Any] = {
        "iss": issuer_of(settings),
        "sub": subject_for(settings, client, grant.account_id),
        "aud": issuer_of(settings),
        "client_id": client.client_id,
        "iat": epoch(now),
        "exp": epoch(expires),
        "jti": jti,
        "scope": scope,
    }
    if grant.account_id is not None and grant.auth_time is not None:
        claims["auth_time"] = epoch(grant.auth_time)
        claims["acr"] = grant.acr
    if grant.dpop_jkt:
        claims["cnf"] = {"jkt": grant.dpop_jkt}
    session.add(AccessToken(jti=jti, grant_id=grant.id if family else None, expires_at=expires))
    token = keys.sign(session=session, settings=settings, claims=claims, typ="at+jwt")
    return token, int(ACCESS_TOKEN_TTL.total_seconds())


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return b64url(digest[: len(digest) // 2])


def _id_token(
    *,
    session: Session,
    settings: Settings,
    client: Client,
    grant: Grant,
    nonce: str | None,
    access_token: str,
) -> str:
    now = utcnow()
    assert grant.account_id is not None and grant.auth_time is not None
    claims: dict[str, Any] = {
        "iss": issuer_of(settings),
        "sub": subject_for(settings, client, grant.account_id),
        "aud": client.client_id,
        "azp": client.client_id,
        "iat": epoch(now),
        "exp": epoch(now + ID_TOKEN_TTL),
        "auth_time": epoch(grant.auth_time),
        "acr": grant.acr,
        "amr": list(grant.amr or []),
        "at_hash": _at_hash(access_token),
    }
    if nonce:
        claims["nonce"] = nonce
    if grant.login_session_id:
        claims["sid"] = session_sid(settings=settings, login_session_id=grant.login_session_id)
    return keys.sign(session=session, settings=settings, claims=claims, typ="JWT")


def _refresh_token(*, session: Session, grant: Grant) -> str:
    token = random_token(32)
    session.add(
        RefreshToken(
            token_hash=sha256_hex(token),
            grant_id=grant.id,
            created_at=utcnow(),
            expires_at=utcnow() + REFRESH_TOKEN_TTL,
        )
    )
    return token


def _wants_refresh(client: Client, scopes: list[str]) -> bool:
    return "refresh_token" in client.grant_types and "offline_access" in scopes


def _response(
    *,
    access_token: str,
    expires_in: int,
    scope: str,
    dpop: bool,
    id_token: str | None = None,
    refresh_token: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "DPoP" if dpop else "Bearer",
        "expires_in": expires_in,
        "scope": scope,
    }
    if id_token:
        body["id_token"] = id_token
    if refresh_token:
        body["refresh_token"] = refresh_token
    return body


def revoke_grant(*, session: Session, grant_id: str, reason: str) -> None:
    """Revoke a whole token family: the grant, its refresh tokens and its access tokens."""
    now = utcnow()
    session.execute(
        update(Grant)
        .where(Grant.id == grant_id, Grant.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason[:64])
    )
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.grant_id == grant_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(
        update(AccessToken)
        .where(AccessToken.grant_id == grant_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.flush()


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


def validate_access_token(*, session: Session, settings: Settings, token: str) -> AccessInfo | None:
    """The facts of a live access token this provider issued, or None."""
    claims = keys.verify_own(session=session, token=token, typ="at+jwt")
    if claims is None or claims.get("iss") != issuer_of(settings):
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= epoch(utcnow()):
        return None
    jti = claims.get("jti")
    row = session.get(AccessToken, jti) if isinstance(jti, str) else None
    if row is None or row.revoked_at is not None:
        return None
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    scopes = str(claims.get("scope", "")).split()
    if row.grant_id is None:
        return AccessInfo(claims, None, str(claims.get("client_id")), None, scopes, jkt)
    grant = session.get(Grant, row.grant_id)
    if grant is None or grant.revoked_at is not None:
        return None
    return AccessInfo(claims, grant.id, grant.client_id, grant.account_id, scopes, jkt)


def access_token_info(
    *, session: Session, settings: Settings, token: str, audience: str | None = None
) -> AccessTokenInfo | None:
    """A live access token's facts for another domain, or None (also for an inactive client).

    With `audience`, the token's `aud` must name it. A DPoP-bound token comes back with its
    `jkt`: the caller must still check the request's DPoP proof against it.
    """
    if not token or len(token) > 8192:
        return None
    info = validate_access_token(session=session, settings=settings, token=token)
    if info is None:
        return None
    aud = info.claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience is not None and audience not in audiences:
        return None
    client = session.get(Client, info.client_id)
    if client is None or client.status != "active":
        return None
    subject = info.claims.get("sub") if info.account_id is not None else None
    return AccessTokenInfo(
        client_id=client.client_id,
        agency_id=client.agency_id,
        scopes=list(info.scopes),
        subject=subject if isinstance(subject, str) else None,
        expires_at=datetime.fromtimestamp(int(info.claims["exp"]), UTC),
        jkt=info.jkt,
    )


def get_grant(*, session: Session, grant_id: str) -> Grant | None:
    """A grant row by id (provider-internal)."""
    return session.get(Grant, grant_id)
