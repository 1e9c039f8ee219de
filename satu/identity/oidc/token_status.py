"""Whether an issued token is live, and ending a token family.

`validate_access_token` checks one of our access tokens (signature, issuer, expiry, its `jti`
row and its grant not revoked); `access_token_info` gives another domain the facts of a live
one. `revoke_grant` ends a whole family: the grant, its refresh tokens and its access tokens
(used for revocation, code replay and refresh-token reuse). Callers use these through
`tokens`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import utcnow
from satu.identity.oidc import keys
from satu.identity.oidc.models import AccessToken, Client, Grant, RefreshToken
from satu.identity.oidc.util import epoch, issuer_of
from satu.identity.schemas import AccessTokenInfo


@dataclass(frozen=True)
class AccessInfo:
    """A valid access token's facts, for userinfo and protected resources."""

    claims: dict[str, Any]
    grant_id: str | None
    client_id: str
    account_id: str | None
    scopes: list[str]
    jkt: str | None


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
