"""Sub-keys of the deployment's master secret, one per purpose (HKDF-SHA256).

Every domain that needs a key of its own (OIDC pairwise subjects, the exchange's log subject
hashes and key encryption, ...) derives it here from `app_secret`, so rotating
`SATU_SECRET_KEY` is one decision with known consequences.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from satu.core.config import Settings
from satu.core.csrf import app_secret


def derive_key(settings: Settings, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """The sub-key of the master secret for (`salt`, `info`)."""
    return _derive(app_secret(settings), salt, info, length)


@lru_cache(maxsize=64)
def _derive(secret: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=SHA256(), length=length, salt=salt, info=info).derive(secret)
