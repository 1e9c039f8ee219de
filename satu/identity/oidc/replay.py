"""A replay cache for one-time values (`jti` of client assertions and DPoP proofs).

One `INSERT ... ON CONFLICT DO NOTHING` per value: a conflict means the value was seen. A
stored entry outlives the token it came from, so a conflict with an old entry still marks a
replay of something that could not be valid any more; expired entries are purged now and then.
"""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.identity.oidc.models import SeenJti
from satu.identity.oidc.util import sha256_hex

_PURGE_ONE_IN = 500


def first_use(*, session: Session, kind: str, issuer: str, jti: str, expires_at: datetime) -> bool:
    """Record `jti` for `issuer`; False when it was already seen."""
    key = sha256_hex(f"{kind}\x1f{issuer}\x1f{jti}")
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = SeenJti.__table__
    statement = (
        insert(table)
        .values(key=key, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.key)
    )
    inserted = session.execute(statement).first() is not None
    if random.randrange(_PURGE_ONE_IN) == 0:
        session.execute(delete(SeenJti).where(SeenJti.expires_at < utcnow()))
    return inserted
