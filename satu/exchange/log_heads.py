"""Transparency log signed tree heads: RFC 9162 `TreeHeadDataV2`, signing, serving, verifying.

Holds the operator's head-signing key, `sign_tree_head` and the rule that signs a new head on
reading when one is due (`maybe_sign_tree_head`, `latest_tree_head`), the stored heads as the
API serves them, and `verify_tree_head`. It is separate from appending (`log_entries.py`) and
the tree (`log_tree.py`), which it uses for the size and the root; `transparency.py` is the
public face. `HEAD_MAX_AGE_SECONDS` and `HEAD_MAX_PENDING` are read here: patch them here.
"""

from __future__ import annotations

import base64
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.core.errors import Problem
from satu.exchange import keys
from satu.exchange.log_entries import _lock, tree_size
from satu.exchange.log_tree import _LOCK_BUILD, _build, root_hash
from satu.exchange.models import TreeHead

OPERATOR_CLASS = "GOV"
OPERATOR_CODE = "SATU"
HEAD_MAX_AGE_SECONDS = 60
HEAD_MAX_PENDING = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- signed tree heads ---------------------------------------------------------------------------


def tree_head_data(*, timestamp: int, tree_size: int, root_hash: bytes) -> bytes:
    """RFC 9162 TreeHeadDataV2 (TLS encoding, no extensions): the bytes a tree head signs."""
    return struct.pack(">QQB", timestamp, tree_size, len(root_hash)) + root_hash + b"\x00\x00"


def _millis(moment: datetime) -> int:
    return (moment.astimezone(UTC) - _EPOCH) // timedelta(milliseconds=1)


def _head_dict(row: TreeHead) -> dict[str, Any]:
    return {
        "tree_size": row.tree_size,
        "timestamp": _millis(row.timestamp),
        "sha256_root_hash": base64.b64encode(row.root_hash).decode(),
        "tree_head_signature": base64.b64encode(row.signature).decode(),
        "key_id": row.key_id,
        "signature_algorithm": "ed25519",
    }


def operator_key(*, session: Session) -> tuple[str, Any]:
    """The exchange operator's hosted Ed25519 signing key (key id, private key)."""
    return keys.signing_key(session=session, member_class=OPERATOR_CLASS, member_code=OPERATOR_CODE)


def operator_jwk(*, session: Session) -> dict[str, Any]:
    """The public key that signs the newest tree head (or would sign the next), as a JWK."""
    latest = _latest_row(session)
    key_id = latest.key_id if latest else operator_key(session=session)[0]
    info = keys.public_key(session=session, key_id=key_id)
    if info is None:
        raise Problem("not-found", "The log's key is not known.")
    return keys.jwk_of(info)


def _latest_row(session: Session) -> TreeHead | None:
    return session.scalar(select(TreeHead).order_by(TreeHead.tree_size.desc()).limit(1))


def tree_head(*, session: Session, tree_size: int) -> dict[str, Any] | None:
    """The signed head of exactly `tree_size` entries, if one was signed."""
    row = session.get(TreeHead, tree_size) if 0 <= tree_size < 2**62 else None
    return _head_dict(row) if row else None


def sign_tree_head(*, session: Session) -> dict[str, Any]:
    """Sign a head for the current log (or return the latest if the log has not grown)."""
    _lock(session.connection(), _LOCK_BUILD)
    size = tree_size(session=session)
    latest = _latest_row(session)
    if latest is not None and latest.tree_size >= size:
        return _head_dict(latest)
    _build(session, size)
    root = root_hash(session=session, tree_size=size)
    now = utcnow()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    if latest is not None and now <= latest.timestamp:
        now = latest.timestamp + timedelta(milliseconds=1)
    key_id, private = operator_key(session=session)
    data = tree_head_data(timestamp=_millis(now), tree_size=size, root_hash=root)
    row = TreeHead(
        tree_size=size, root_hash=root, timestamp=now, key_id=key_id, signature=private.sign(data)
    )
    session.add(row)
    session.flush()
    return _head_dict(row)


def maybe_sign_tree_head(*, session: Session) -> dict[str, Any] | None:
    """Sign a new head if the log grew and the latest is too old or too far behind."""
    latest = _latest_row(session)
    size = tree_size(session=session)
    if latest is None:
        return sign_tree_head(session=session)
    behind = size - latest.tree_size
    age = (utcnow() - latest.timestamp.astimezone(UTC)).total_seconds()
    if behind > 0 and (age >= HEAD_MAX_AGE_SECONDS or behind >= HEAD_MAX_PENDING):
        return sign_tree_head(session=session)
    return None


def latest_tree_head(*, session: Session, refresh: bool = True) -> dict[str, Any] | None:
    """The newest signed tree head as the API serves it (signing a new one first if due)."""
    if refresh:
        signed = maybe_sign_tree_head(session=session)
        if signed is not None:
            return signed
    latest = _latest_row(session)
    return _head_dict(latest) if latest else None


def verify_tree_head(*, session: Session, head: dict[str, Any]) -> bool:
    """Does the head's signature verify with the key it names?"""
    found = keys.verifying_key(session=session, key_id=str(head.get("key_id", "")))
    if found is None:
        return False
    try:
        data = tree_head_data(
            timestamp=int(head["timestamp"]),
            tree_size=int(head["tree_size"]),
            root_hash=base64.b64decode(head["sha256_root_hash"]),
        )
        found[1].verify(base64.b64decode(head["tree_head_signature"]), data)
    except Exception:
        return False
    return True
