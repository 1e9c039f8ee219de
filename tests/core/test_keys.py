"""Sub-keys of the master secret."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from satu.core.config import Settings
from satu.core.keys import derive_key


def test_sub_keys_are_hkdf_of_the_secret_per_purpose(tmp_path: Path) -> None:
    settings = Settings(secret_key="s" * 40, var_dir=tmp_path)
    key = derive_key(settings, salt=b"satu-x", info=b"one")
    expected = HKDF(algorithm=SHA256(), length=32, salt=b"satu-x", info=b"one").derive(b"s" * 40)
    assert key == expected
    assert derive_key(settings, salt=b"satu-x", info=b"two") != key
    assert derive_key(settings, salt=b"satu-y", info=b"one") != key
    assert len(derive_key(settings, salt=b"satu-x", info=b"one", length=16)) == 16
    other = Settings(secret_key="t" * 40, var_dir=tmp_path)
    assert derive_key(other, salt=b"satu-x", info=b"one") != key
