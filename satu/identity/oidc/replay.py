"""A replay cache for one-time values (`jti` of client assertions and DPoP proofs)."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.identity.oidc.models import SeenJti
from satu.identity.oidc.util import sha256_hex

_PURGE_ONE_IN = 200


def first_use(*, session: Session, kind: str, issuer: str, jti: str, expires_at: datetime) -> bool:
    """Record `jti` for `issuer`; False when it was already seen and has not expired yet."""
    key = sha256_hex(f"{kind}\x1f{issuer}\x1f{jti}")
    now = utcnow()
    existing = session.get(SeenJti, key)
    if existing is not None:
        if existing.expires_at > now:
            return False
        existing.expires_at = expires_at
        session.flush()
        return True
    try:
        with session.begin_nested():
            session.add(SeenJti(key=key, expires_at=expires_at))
    except IntegrityError:
        return False
    if random.randrange(_PURGE_ONE_IN) == 0:
        session.execute(delete(SeenJti).where(SeenJti.expires_at < now))
    return True
