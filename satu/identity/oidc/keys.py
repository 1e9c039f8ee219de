"""Signing keys: ES256 key pairs in the database, private halves encrypted, rotated by command.

The active key signs ID tokens and access tokens. A rotated-out key stays published in the
JWKS until every token it signed has expired (`PUBLISH_AFTER_RETIREMENT`), so relying parties
never meet a signature they cannot check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import threading
import time
from datetime import timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from satu.core import keys as core_keys
from satu.core.config import Settings
from satu.core.csrf import app_secret
from satu.core.db import utcnow
from satu.identity.oidc.models import SigningKey

log = logging.getLogger(__name__)

SIGNING_ALG = "ES256"
LONGEST_SIGNED_TOKEN = timedelta(minutes=10)
PUBLISH_AFTER_RETIREMENT = LONGEST_SIGNED_TOKEN + timedelta(minutes=5)

_cache_lock = threading.Lock()
_private_cache: dict[str, ECKey] = {}
_public_cache: dict[str, tuple[ECKey, float]] = {}
_PUBLIC_CACHE_SECONDS = 30.0
_ACTIVE_CACHE_SECONDS = 5.0
_active: dict[str, tuple[ECKey, float]] = {}


def server_secret(settings: Settings) -> bytes:
    """The deployment's master secret (`SATU_SECRET_KEY`, else the key kept in `var_dir`)."""
    return app_secret(settings)


def derive_key(settings: Settings, purpose: str, length: int = 32) -> bytes:
    """A sub-key of the master secret for one purpose (HKDF-SHA256)."""
    return core_keys.derive_key(settings, salt=b"satu-oidc", info=purpose.encode(), length=length)


def keyed_hash(settings: Settings, purpose: str, *parts: str) -> str:
    """HMAC-SHA256 over `parts` with a purpose-derived key, base64url without padding."""
    mac = hmac.new(derive_key(settings, purpose), "\x1f".join(parts).encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def _encrypt(settings: Settings, kid: str, plaintext: bytes) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(derive_key(settings, "signing-key-encryption")).encrypt(
        nonce, plaintext, kid.encode()
    )
    return base64.b64encode(nonce + sealed).decode()


def _decrypt(settings: Settings, kid: str, stored: str) -> bytes:
    raw = base64.b64decode(stored)
    return AESGCM(derive_key(settings, "signing-key-encryption")).decrypt(
        raw[:12], raw[12:], kid.encode()
    )


def create_key(*, session: Session, settings: Settings) -> str:
    """Generate a new ES256 key, store it encrypted and return its `kid`."""
    key = ECKey.generate_key("P-256", auto_kid=True)
    kid = str(key.kid)
    public = key.as_dict(private=False)
    public.update({"use": "sig", "alg": SIGNING_ALG})
    private_pem = key.as_pem(private=True)
    session.add(
        SigningKey(
            kid=kid,
            alg=SIGNING_ALG,
            public_jwk=public,
            private_encrypted=_encrypt(settings, kid, private_pem),
            created_at=utcnow(),
        )
    )
    session.flush()
    return kid


def rotate_keys(*, session: Session, settings: Settings) -> str:
    """Make a fresh key active; older keys retire but stay published until their tokens expire."""
    now = utcnow()
    for row in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        row.retired_at = now
        row.publish_until = now + PUBLISH_AFTER_RETIREMENT
    session.flush()
    forget_active_key()
    return create_key(session=session, settings=settings)


def active_signing_key(*, session: Session, settings: Settings) -> ECKey:
    """The key that signs new tokens (created on first use; looked up at most every 5 s)."""
    remembered = _active.get("key")
    if remembered is not None and remembered[1] > time.monotonic():
        return remembered[0]
    key, created = _load_active_key(session=session, settings=settings)
    if not created:  # a key made in this transaction is not committed yet: do not share it
        with _cache_lock:
            _active["key"] = (key, time.monotonic() + _ACTIVE_CACHE_SECONDS)
    return key


def forget_active_key() -> None:
    """Drop the remembered active key (after a rotation in this process)."""
    with _cache_lock:
        _active.clear()


def _load_active_key(*, session: Session, settings: Settings) -> tuple[ECKey, bool]:
    row = session.scalars(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    ).first()
    created = row is None
    if row is None:
        kid = create_key(session=session, settings=settings)
        row = session.get(SigningKey, kid)
        assert row is not None
    cached = _private_cache.get(row.kid)
    if cached is not None:
        return cached, created
    try:
        pem = _decrypt(settings, row.kid, row.private_encrypted)
    except InvalidTag:
        # The master secret changed: this key can no longer sign. Retire it (its public half
        # still verifies what it signed) and start a new one.
        log.error("signing key %s cannot be decrypted with the current secret; rotating", row.kid)
        now = utcnow()
        row.retired_at = now
        row.publish_until = now + PUBLISH_AFTER_RETIREMENT
        session.flush()
        return _load_active_key(session=session, settings=settings)
    key = ECKey.import_key(pem, {"kid": row.kid})
    with _cache_lock:
        _private_cache[row.kid] = key
    return key, created


def published_keys(*, session: Session) -> list[dict[str, Any]]:
    """Public JWKs of the active key and of retired keys still within their publication window."""
    now = utcnow()
    rows = session.scalars(
        select(SigningKey)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.publish_until > now))
        .order_by(SigningKey.created_at.desc())
    )
    return [dict(row.public_jwk) for row in rows]


def jwks(*, session: Session) -> dict[str, Any]:
    """The JWK Set document served at the `jwks_uri`."""
    return {"keys": published_keys(session=session)}


def list_keys(*, session: Session) -> list[dict[str, Any]]:
    """Every stored key's public metadata (for the operator CLI)."""
    rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at))
    return [
        {
            "kid": row.kid,
            "created_at": row.created_at,
            "retired_at": row.retired_at,
            "publish_until": row.publish_until,
        }
        for row in rows
    ]


def sign(*, session: Session, settings: Settings, claims: dict[str, Any], typ: str) -> str:
    """Sign `claims` as a compact JWS with the active key."""
    key = active_signing_key(session=session, settings=settings)
    header = {"alg": SIGNING_ALG, "kid": key.kid, "typ": typ}
    return jwt.encode(header, claims, key, algorithms=[SIGNING_ALG])


def _public_key(*, session: Session, kid: str) -> ECKey | None:
    cached = _public_cache.get(kid)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    row = session.get(SigningKey, kid)
    if row is None:
        return None
    if row.publish_until is not None and row.publish_until <= utcnow():
        return None
    key = ECKey.import_key(dict(row.public_jwk))
    if row.retired_at is None:
        with _cache_lock:
            _public_cache[kid] = (key, time.monotonic() + _PUBLIC_CACHE_SECONDS)
    return key


def verify_own(*, session: Session, token: str, typ: str | None = None) -> dict[str, Any] | None:
    """The claims of a token this provider signed, or None if the signature or `typ` is wrong."""
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError, UnicodeError):
        return None
    if header.get("alg") != SIGNING_ALG or not isinstance(header.get("kid"), str):
        return None
    if typ is not None and str(header.get("typ", "")).lower() != typ:
        return None
    key = _public_key(session=session, kid=header["kid"])
    if key is None:
        return None
    try:
        return dict(jwt.decode(token, key, algorithms=[SIGNING_ALG]).claims)
    except (JoseError, ValueError):
        return None
