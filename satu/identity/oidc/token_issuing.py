"""Issuing: authorization codes and the access, ID and refresh tokens a grant yields.

Codes and refresh tokens are random and stored as SHA-256; access tokens are ES256 JWTs in
the RFC 9068 profile, recorded by `jti` (DPoP-bound ones carry `cnf.jkt`); ID tokens carry a
pairwise `sub` per agency. The helpers here mint one token each and shape the token
response; the grants that call them live in `token_grants`. Callers use these through
`tokens`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import utcnow
from satu.identity.oidc import keys
from satu.identity.oidc.models import (
    AccessToken,
    AuthorizationCode,
    Client,
    Grant,
    RefreshToken,
)
from satu.identity.oidc.util import (
    b64url,
    epoch,
    issuer_of,
    random_token,
    sha256_hex,
)

CODE_TTL = timedelta(seconds=60)
ACCESS_TOKEN_TTL = timedelta(minutes=5)
ID_TOKEN_TTL = timedelta(minutes=5)
REFRESH_TOKEN_TTL = timedelta(days=30)

assert max(ACCESS_TOKEN_TTL, ID_TOKEN_TTL) <= keys.LONGEST_SIGNED_TOKEN


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
