"""Ending and inspecting tokens: revocation (RFC 7009), introspection (RFC 7662), and
revoking a resident's grants on consent withdrawal or logout."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import utcnow
from satu.identity.oidc import keys
from satu.identity.oidc.errors import OAuthError
from satu.identity.oidc.models import AccessToken, Client, Grant, RefreshToken
from satu.identity.oidc.tokens import revoke_grant, subject_for, validate_access_token
from satu.identity.oidc.util import epoch, issuer_of, sha256_hex


def revoke_token(
    *, session: Session, settings: Settings, client: Client, token: str, hint: str | None
) -> str | None:
    """RFC 7009: revoke a refresh token (whole family) or an access token of this client."""
    if hint not in (None, "access_token", "refresh_token"):
        raise OAuthError("unsupported_token_type", "Only access and refresh tokens are revocable.")
    row = session.get(RefreshToken, sha256_hex(token)) if len(token) < 200 else None
    if row is not None:
        grant = session.get(Grant, row.grant_id)
        if grant is None or grant.client_id != client.client_id:
            raise OAuthError("unauthorized_client", "The token was not issued to this client.")
        revoke_grant(session=session, grant_id=grant.id, reason="revoked-by-client")
        return grant.id
    claims = keys.verify_own(session=session, token=token, typ="at+jwt")
    if claims is None:
        return None
    access = (
        session.get(AccessToken, claims.get("jti")) if isinstance(claims.get("jti"), str) else None
    )
    if access is None:
        return None
    if claims.get("client_id") != client.client_id:
        raise OAuthError("unauthorized_client", "The token was not issued to this client.")
    access.revoked_at = access.revoked_at or utcnow()
    session.flush()
    return access.grant_id or f"token:{access.jti}"


def introspect(
    *, session: Session, settings: Settings, client: Client, token: str, hint: str | None
) -> dict[str, Any]:
    """RFC 7662: is `token` active, and what does it stand for (to an authenticated client)."""
    info = validate_access_token(session=session, settings=settings, token=token)
    if info is not None:
        body: dict[str, Any] = {"active": True, "token_type": "DPoP" if info.jkt else "Bearer"}
        for name in (
            "scope",
            "client_id",
            "sub",
            "exp",
            "iat",
            "iss",
            "aud",
            "jti",
            "acr",
            "auth_time",
            "cnf",
        ):
            if name in info.claims:
                body[name] = info.claims[name]
        return body
    if len(token) < 200:
        row = session.get(RefreshToken, sha256_hex(token))
        grant = session.get(Grant, row.grant_id) if row is not None else None
        now = utcnow()
        if (
            row is not None
            and grant is not None
            and grant.client_id == client.client_id
            and row.used_at is None
            and row.revoked_at is None
            and grant.revoked_at is None
            and row.expires_at > now
        ):
            owner = session.get(Client, grant.client_id)
            assert owner is not None
            return {
                "active": True,
                "token_type": "refresh_token",
                "scope": grant.scope,
                "client_id": grant.client_id,
                "sub": subject_for(settings, owner, grant.account_id),
                "exp": epoch(row.expires_at),
                "iat": epoch(row.created_at),
                "iss": issuer_of(settings),
            }
    return {"active": False}


def revoke_client_grants(*, session: Session, account_id: str, client_id: str, reason: str) -> int:
    """Revoke every live grant a resident gave one client (on consent withdrawal)."""
    ids = list(
        session.scalars(
            select(Grant.id).where(
                Grant.account_id == account_id,
                Grant.client_id == client_id,
                Grant.revoked_at.is_(None),
            )
        )
    )
    for grant_id in ids:
        revoke_grant(session=session, grant_id=grant_id, reason=reason)
    return len(ids)


def revoke_session_grants(*, session: Session, login_session_id: str) -> int:
    """On logout, revoke the grants of that sign-in session that are not offline_access."""
    rows = list(
        session.scalars(
            select(Grant).where(
                Grant.login_session_id == login_session_id, Grant.revoked_at.is_(None)
            )
        )
    )
    count = 0
    for grant in rows:
        if "offline_access" not in grant.scope.split():
            revoke_grant(session=session, grant_id=grant.id, reason="logout")
            count += 1
    return count
