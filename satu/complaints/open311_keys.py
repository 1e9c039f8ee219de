"""Open311 api keys: the credential an existing 311 app or an SMS/social gateway submits with.

Keys are created and revoked by name (from the command line); only a key's sha-256 hash is
stored, and a request whose `api_key` is missing, unknown or revoked is refused with a 403 in
Open311's error shape. Split from `open311.py`, which re-exports these names.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.complaints.models import ApiKey
from satu.complaints.open311_render import Open311Error
from satu.core.errors import Problem


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(*, session: Session, name: str, channel: str = "open311") -> str:
    """Create a key for a client or gateway; the raw key is shown once, only its hash kept."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Problem("validation-error", "name: 1 to 100 characters")
    if channel not in ("open311", "sms", "social", "api"):
        raise Problem("validation-error", "channel: open311, sms, social or api")
    if session.scalars(select(ApiKey).where(ApiKey.name == name)).first() is not None:
        raise Problem("conflict", f"A key named {name!r} exists.")
    raw = "s311_" + secrets.token_urlsafe(24)
    session.add(ApiKey(key_hash=_hash(raw), name=name, channel=channel))
    session.flush()
    return raw


def revoke_api_key(*, session: Session, name: str) -> bool:
    """Deactivate a key by name; True when one was active."""
    key = session.scalars(select(ApiKey).where(ApiKey.name == name)).first()
    if key is None or not key.active:
        return False
    key.active = False
    session.flush()
    return True


def _client(session: Session, raw: str | None) -> ApiKey:
    if not raw:
        raise Open311Error(403, "api_key is required")
    key = session.get(ApiKey, _hash(raw)) if len(raw) <= 200 else None
    if key is None or not key.active:
        raise Open311Error(403, "api_key is not valid")
    return key
