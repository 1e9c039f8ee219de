"""Members' Ed25519 keys for HTTP Message Signatures: hosted keys and registered public keys.

A hosted key is made on first use for a member (like an X-Road security server's signing key);
its private half is stored encrypted with AES-256-GCM under a key derived by HKDF-SHA256 from the
deployment's master secret, with the key id as associated data. A member's own system may also
register the public half of a key it holds. The key id is the RFC 7638 JWK thumbprint of the
public key unless the member names it. All non-revoked keys are published as a JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from satu.core.config import Settings, get_settings
from satu.core.db import utcnow
from satu.core.errors import Problem
from satu.core.keys import derive_key
from satu.exchange.models import MemberKey, Subsystem
from satu.exchange.schemas import Actor, KeyInfo
from satu.identity import service as identity

KEY_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,100}$"
_KEY_ID = re.compile(KEY_ID_PATTERN)
_ENCRYPTION_PURPOSE = b"exchange-member-key-encryption"

_lock = threading.Lock()
_private_cache: dict[tuple[str, bytes], Ed25519PrivateKey] = {}


class HostedKeyError(Exception):
    """A stored private key that cannot be decrypted (wrong master secret or tampering)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(public_key: bytes) -> str:
    """The RFC 7638 thumbprint (SHA-256, base64url) of an Ed25519 public key's JWK."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": b64url(public_key)},
        separators=(",", ":"),
        sort_keys=True,
    )
    return b64url(hashlib.sha256(canonical.encode()).digest())


def _aead(settings: Settings | None) -> AESGCM:
    key = derive_key(settings or get_settings(), salt=b"satu-exchange", info=_ENCRYPTION_PURPOSE)
    return AESGCM(key)


def encrypt_private(key_id: str, raw: bytes, settings: Settings | None = None) -> bytes:
    """Seal a raw private key: 12-byte nonce + AES-GCM ciphertext, the key id authenticated."""
    nonce = os.urandom(12)
    return nonce + _aead(settings).encrypt(nonce, raw, key_id.encode())


def decrypt_private(key_id: str, sealed: bytes, settings: Settings | None = None) -> bytes:
    """Open a sealed private key; `HostedKeyError` if it was not sealed under this secret and id."""
    try:
        return _aead(settings).decrypt(sealed[:12], sealed[12:], key_id.encode())
    except (InvalidTag, ValueError) as exc:
        raise HostedKeyError(f"cannot decrypt hosted key {key_id}") from exc


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _info(row: MemberKey) -> KeyInfo:
    return KeyInfo(
        key_id=row.key_id,
        member_class=row.member_class,
        member_code=row.member_code,
        subsystem_id=row.subsystem_id,
        algorithm=row.algorithm,
        public_key=bytes(row.public_key),
        hosted=bool(row.hosted),
        revoked=row.revoked_at is not None,
    )


def _private_of(row: MemberKey, settings: Settings | None) -> Ed25519PrivateKey:
    sealed = bytes(row.private_key_encrypted or b"")
    cache_key = (row.key_id, sealed)
    with _lock:
        cached = _private_cache.get(cache_key)
    if cached is not None:
        return cached
    private = Ed25519PrivateKey.from_private_bytes(decrypt_private(row.key_id, sealed, settings))
    if _raw_public(private.public_key()) != bytes(row.public_key):
        raise HostedKeyError(f"hosted key {row.key_id} does not match its public key")
    with _lock:
        if len(_private_cache) > 1000:
            _private_cache.clear()
        _private_cache[cache_key] = private
    return private


def signing_key(
    *, session: Session, member_class: str, member_code: str, settings: Settings | None = None
) -> tuple[str, Ed25519PrivateKey]:
    """The member's hosted signing key (key id, private key), made on first use."""
    row = session.scalar(
        select(MemberKey)
        .where(
            MemberKey.member_class == member_class,
            MemberKey.member_code == member_code,
            MemberKey.hosted.is_(True),
            MemberKey.revoked_at.is_(None),
            MemberKey.subsystem_id.is_(None),
        )
        .order_by(MemberKey.created_at.desc(), MemberKey.key_id)
        .limit(1)
    )
    if row is not None:
        return row.key_id, _private_of(row, settings)
    private = Ed25519PrivateKey.generate()
    public = _raw_public(private.public_key())
    key_id = thumbprint(public)
    raw = private.private_bytes_raw()
    row = MemberKey(
        key_id=key_id,
        member_class=member_class,
        member_code=member_code,
        subsystem_id=None,
        algorithm="ed25519",
        public_key=public,
        private_key_encrypted=encrypt_private(key_id, raw, settings),
        hosted=True,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return key_id, private


def public_key(*, session: Session, key_id: str) -> KeyInfo | None:
    """A key by id (revoked ones too, with `revoked=True`), or None."""
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        return None
    row = session.get(MemberKey, key_id)
    return _info(row) if row is not None else None


def verifying_key(*, session: Session, key_id: str) -> tuple[KeyInfo, Ed25519PublicKey] | None:
    """A non-revoked key and its `cryptography` public key object, or None."""
    info = public_key(session=session, key_id=key_id)
    if info is None or info.revoked:
        return None
    return info, Ed25519PublicKey.from_public_bytes(info.public_key)


def register_public_key(
    *,
    session: Session,
    member_class: str,
    member_code: str,
    subsystem_id: int | None,
    public_key: bytes,
    key_id: str | None = None,
) -> KeyInfo:
    """Record the public half of a key a member's own system holds (raw 32-byte Ed25519)."""
    if not isinstance(public_key, bytes | bytearray) or len(public_key) != 32:
        raise Problem("validation-error", "An Ed25519 public key is exactly 32 bytes.")
    public_key = bytes(public_key)
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise Problem("validation-error", "Not a valid Ed25519 public key.") from exc
    if key_id is None or key_id == "":
        key_id = thumbprint(public_key)
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise Problem("validation-error", "key_id is 1-100 letters, digits, '.', '_', ':' or '-'.")
    member_subsystems = select(Subsystem).where(
        Subsystem.member_class == member_class, Subsystem.member_code == member_code
    )
    if session.scalar(member_subsystems.limit(1)) is None:
        raise Problem("not-found", "No subsystem of this member is registered on the exchange.")
    if subsystem_id is not None:
        subsystem = session.get(Subsystem, subsystem_id)
        if (
            subsystem is None
            or subsystem.member_class != member_class
            or subsystem.member_code != member_code
        ):
            raise Problem("validation-error", "The subsystem is not one of this member's.")
    if session.get(MemberKey, key_id) is not None:
        raise Problem("conflict", "A key with this key_id is already registered.")
    if session.scalar(select(MemberKey).where(MemberKey.public_key == public_key)) is not None:
        raise Problem("conflict", "This public key is already registered.")
    row = MemberKey(
        key_id=key_id,
        member_class=member_class,
        member_code=member_code,
        subsystem_id=subsystem_id,
        algorithm="ed25519",
        public_key=public_key,
        private_key_encrypted=None,
        hosted=False,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise Problem("conflict", "A key with this key_id is already registered.") from exc
    return _info(row)


def _member_agency(session: Session, member_class: str, member_code: str) -> str | None:
    """The agency that *is* the X-Road member (Kemendagri for GOV/kemendagri), or None.

    A unit such as Ditjen Dukcapil runs subsystems of its parent's member but is not the
    member: its officers manage their own subsystems' keys, never the member-wide ones.
    """
    from satu.satudata import service as satudata

    agency = satudata.find_agency(session=session, agency_id=member_code)
    if agency is None or (agency.member_class, agency.member_code) != (member_class, member_code):
        return None
    return agency.id


def _may_manage_key(
    session: Session, actor: Actor, member_class: str, member_code: str, subsystem_id: int | None
) -> bool:
    """Subsystem keys: that subsystem's agency; member-wide keys: the member agency itself."""
    if actor.is_admin:
        return True
    if subsystem_id is not None:
        subsystem = session.get(Subsystem, subsystem_id)
        return subsystem is not None and actor.may_manage(subsystem.agency_id)
    agency_id = _member_agency(session, member_class, member_code)
    return agency_id is not None and actor.may_manage(agency_id)


def add_member_key(
    *,
    session: Session,
    actor: Actor,
    subsystem_id: int,
    public_key: bytes,
    key_id: str | None = None,
    whole_member: bool = False,
) -> KeyInfo:
    """Register a subsystem's (or, with `whole_member`, its member's) public key; audited."""
    subsystem = session.get(Subsystem, subsystem_id) if isinstance(subsystem_id, int) else None
    if subsystem is None:
        raise Problem("not-found", "No such subsystem.")
    if not actor.may_manage(subsystem.agency_id):
        raise Problem("forbidden", "Only the agency's officers or an administrator may add keys.")
    if whole_member and not _may_manage_key(
        session, actor, subsystem.member_class, subsystem.member_code, None
    ):
        raise Problem(
            "forbidden",
            "A key for every subsystem of the member is registered by the member agency's "
            "officers or an administrator; register it for this subsystem instead.",
        )
    info = register_public_key(
        session=session,
        member_class=subsystem.member_class,
        member_code=subsystem.member_code,
        subsystem_id=None if whole_member else subsystem.id,
        public_key=public_key,
        key_id=key_id,
    )
    identity.record_audit(
        session=session,
        actor=actor.name,
        action="exchange.key.registered",
        target=f"key:{info.key_id}",
        ip=actor.ip,
        detail={"member": f"{info.member_class}/{info.member_code}", "subsystem_id": subsystem_id},
    )
    return info


def revoke_key(*, session: Session, actor: Actor, key_id: str) -> KeyInfo:
    """Revoke a key: signatures by it are refused from now on and it leaves the JWKS."""
    row = session.get(MemberKey, key_id) if isinstance(key_id, str) else None
    if row is None:
        raise Problem("not-found", "No such key.")
    if not _may_manage_key(session, actor, row.member_class, row.member_code, row.subsystem_id):
        raise Problem(
            "forbidden", "Only the key owner's officers or an administrator may revoke it."
        )
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    identity.record_audit(
        session=session,
        actor=actor.name,
        action="exchange.key.revoked",
        target=f"key:{row.key_id}",
        ip=actor.ip,
        detail={"member": f"{row.member_class}/{row.member_code}"},
    )
    return _info(row)


def list_keys(
    *,
    session: Session,
    member_class: str | None = None,
    member_code: str | None = None,
    include_revoked: bool = False,
) -> list[KeyInfo]:
    """Keys (of one member), oldest first."""
    query = select(MemberKey)
    if member_class is not None:
        query = query.where(MemberKey.member_class == member_class)
    if member_code is not None:
        query = query.where(MemberKey.member_code == member_code)
    if not include_revoked:
        query = query.where(MemberKey.revoked_at.is_(None))
    query = query.order_by(MemberKey.created_at, MemberKey.key_id).limit(10_000)
    return [_info(row) for row in session.scalars(query)]


def jwk_of(info: KeyInfo, subsystem_code: str | None = None) -> dict[str, Any]:
    """The public JWK (RFC 8037 OKP/Ed25519) of a key, with member hints."""
    jwk: dict[str, Any] = {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(info.public_key),
        "kid": info.key_id,
        "alg": "EdDSA",
        "use": "sig",
        "member_class": info.member_class,
        "member_code": info.member_code,
    }
    if subsystem_code is not None:
        jwk["subsystem_code"] = subsystem_code
    return jwk


def jwks(*, session: Session) -> dict[str, Any]:
    """Every non-revoked member key as a JSON Web Key Set."""
    rows = session.execute(
        select(MemberKey, Subsystem.subsystem_code)
        .outerjoin(Subsystem, Subsystem.id == MemberKey.subsystem_id)
        .where(MemberKey.revoked_at.is_(None))
        .order_by(MemberKey.member_class, MemberKey.member_code, MemberKey.created_at)
        .limit(10_000)
    ).all()
    return {"keys": [jwk_of(_info(row), code) for row, code in rows]}


def decode_public_key(text: Any) -> bytes:
    """A public key given as base64url/base64 of the raw 32 bytes, or as a PEM/OKP JWK x."""
    if not isinstance(text, str) or not 0 < len(text) <= 4096:
        raise Problem("validation-error", "public_key is required (base64url of 32 bytes or PEM).")
    text = text.strip()
    if text.startswith("-----BEGIN"):
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        try:
            key = load_pem_public_key(text.encode())
        except ValueError as exc:
            raise Problem("validation-error", "public_key is not a valid PEM public key.") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise Problem("validation-error", "Only Ed25519 public keys are accepted.")
        return _raw_public(key)
    try:
        raw = base64.urlsafe_b64decode(
            text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4)
        )
    except (ValueError, TypeError) as exc:
        raise Problem("validation-error", "public_key is not valid base64.") from exc
    if len(raw) != 32:
        raise Problem("validation-error", "An Ed25519 public key is exactly 32 bytes.")
    return raw
