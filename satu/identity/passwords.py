"""Password hashing with argon2id, password rules, and constant-ish-time checks.

Default cost: argon2id, memory 19 MiB, time cost 2, parallelism 1, the OWASP Password Storage
Cheat Sheet's baseline. On the reference machine one check takes about 27 ms, which leaves
room for more than 15 password sign-ins per second per core (Keycloak's published sizing);
64 MiB took 137 ms there (7/s per core). Set `SATU_ARGON2_MEMORY_KIB` / `SATU_ARGON2_TIME_COST`
to raise it; hashes made with older parameters are upgraded at the next successful sign-in.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_LENGTH = 10
MAX_LENGTH = 128
_COMMON = frozenset(
    {
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "password123",
        "passwordku1",
        "indonesia1",
        "indonesia123",
        "bismillah1",
        "bismillah123",
        "sayangku123",
        "0123456789",
        "1111111111",
        "aaaaaaaaaa",
        "katasandi1",
        "katasandi123",
    }
)


class HashSettings(BaseSettings):
    """argon2id parameters (`SATU_ARGON2_*`)."""

    model_config = SettingsConfigDict(env_prefix="SATU_ARGON2_", extra="ignore")

    time_cost: int = Field(2, ge=1, le=10)
    memory_kib: int = Field(19456, ge=8, le=1024 * 1024)
    parallelism: int = Field(1, ge=1, le=16)


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    """The process-wide argon2id hasher."""
    cfg = HashSettings()
    return PasswordHasher(
        time_cost=cfg.time_cost, memory_cost=cfg.memory_kib, parallelism=cfg.parallelism
    )


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hasher().hash("satu-dummy-password-for-timing")


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; with no hash, burn the same time and return False."""
    if password_hash is None:
        with contextlib.suppress(VerificationError):
            hasher().verify(_dummy_hash(), password)
        return False
    try:
        return hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True if the hash was made with other parameters than the current ones."""
    try:
        return hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def password_problems(password: str, *, nik: str | None = None) -> list[str]:
    """Why `password` is not acceptable (English msgids), empty if it is."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append("The password must have at least 10 characters.")
    if len(password) > MAX_LENGTH:
        problems.append("The password must have at most 128 characters.")
    lowered = password.lower()
    if lowered in _COMMON or len(set(password)) < 4:
        problems.append("This password is too easy to guess.")
    if nik and (nik in password or (len(password) >= 6 and password in nik)):
        problems.append("The password must not contain your NIK.")
    return problems
