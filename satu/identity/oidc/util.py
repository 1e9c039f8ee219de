"""Small helpers shared by the provider's modules: random values, hashes, URLs, time."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime

from fastapi import Request

from satu.core.config import Settings

ASYMMETRIC_ALGS = (
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "RS256",
    "RS384",
    "RS512",
    "EdDSA",
)


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def random_token(nbytes: int = 32) -> str:
    """An unguessable URL-safe value."""
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    """Hex SHA-256 of a string (how codes and refresh tokens are stored)."""
    return hashlib.sha256(value.encode()).hexdigest()


def sha256_b64url(value: str) -> str:
    """Base64url SHA-256 of an ASCII string (PKCE S256, DPoP `ath`)."""
    return b64url(hashlib.sha256(value.encode("ascii")).digest())


def settings_of(request: Request) -> Settings:
    """The application's settings."""
    return request.app.state.settings


def issuer_of(settings: Settings) -> str:
    """The issuer identifier: the public URL without a trailing slash."""
    return settings.public_url.rstrip("/")


def endpoint(settings: Settings, path: str) -> str:
    """The absolute URL of one of our endpoints."""
    return issuer_of(settings) + path


def epoch(moment: datetime) -> int:
    """Seconds since the epoch."""
    return int(moment.timestamp())


def split_scope(scope: str | None) -> list[str]:
    """A scope string as an ordered list without duplicates."""
    seen: list[str] = []
    for item in (scope or "").split():
        if item not in seen:
            seen.append(item)
    return seen
