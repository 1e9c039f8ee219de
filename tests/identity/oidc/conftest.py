"""Provider fixtures: registered clients with their keys or secrets, and a code-flow helper."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.identity.oidc import keys
from satu.identity.oidc.clients import create_client
from satu.identity.oidc.schemas import ClientSpec
from tests.identity.oidc.support import (
    AGENCY,
    REDIRECT,
    authorize_params,
    client_auth,
    get_code,
    new_key,
    pkce,
    public_jwks,
)

ALL_USER_SCOPES = [
    "openid",
    "profile",
    "birthdate",
    "address",
    "age_over_18",
    "nik",
    "offline_access",
]


class RegisteredClient:
    """A client registered for a test, with what it needs to authenticate."""

    def __init__(self, client_id: str, key: ECKey | None, secret: str | None) -> None:
        self.client_id = client_id
        self.key = key
        self.secret = secret

    def auth(self, **kwargs: Any) -> dict[str, str]:
        """Form fields for private_key_jwt."""
        assert self.key is not None
        return client_auth(self.key, self.client_id, **kwargs)

    def basic(self) -> tuple[str, str]:
        assert self.secret is not None
        return (self.client_id, self.secret)


@pytest.fixture(autouse=True)
def _fresh_key_caches() -> None:
    """Each test's database is rolled back, so no signing key may outlive it in a cache."""
    keys.forget_active_key()
    keys._public_cache.clear()


@pytest.fixture
def register(db: Session, settings: Settings) -> Callable[..., RegisteredClient]:
    """Register a client (private_key_jwt unless told otherwise)."""

    def make(**overrides: Any) -> RegisteredClient:
        key = None
        values: dict[str, Any] = {
            "name": "Layanan Uji",
            "agency_id": AGENCY,
            "redirect_uris": [REDIRECT],
            "post_logout_redirect_uris": ["https://layanan.example.go.id/keluar"],
            "grant_types": ["authorization_code", "refresh_token"],
            "scopes": ALL_USER_SCOPES,
            "auth_method": "private_key_jwt",
        }
        values.update(overrides)
        if values["auth_method"] == "private_key_jwt" and not values.get("jwks_uri"):
            key = new_key()
            values.setdefault("jwks", public_jwks(key))
        created = create_client(session=db, settings=settings, spec=ClientSpec(**values))
        db.commit()
        return RegisteredClient(created.client.client_id, key, created.client_secret)

    return make


@pytest.fixture
def rp(register: Callable[..., RegisteredClient]) -> RegisteredClient:
    """A sign-in client of Ditjen Dukcapil using private_key_jwt."""
    return register()


@pytest.fixture
def tokens_for(client: TestClient) -> Callable[..., dict[str, Any]]:
    """Run the whole code flow for the signed-in browser and return the token response."""

    def run(rp: RegisteredClient, **extra: str) -> dict[str, Any]:
        verifier, challenge = pkce()
        params = authorize_params(rp.client_id, challenge, **extra)
        code = get_code(client, params)
        response = client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": params["redirect_uri"],
                "code_verifier": verifier,
                **rp.auth(),
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        body["_nonce"] = params["nonce"]
        return body

    return run
