"""Pydantic shapes of the provider: clients, consents, login facts passed to templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from satu.identity.oidc.scopes import ACR_PASSWORD

GrantType = Literal["authorization_code", "refresh_token", "client_credentials"]
AuthMethod = Literal["private_key_jwt", "client_secret_basic"]


class ClientSpec(BaseModel):
    """What an agency registers (or updates) for one relying party."""

    model_config = ConfigDict(extra="forbid")

    client_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._~-]{1,64}$")
    name: str = Field(min_length=1, max_length=256)
    agency_id: str = Field(min_length=1, max_length=64)
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    post_logout_redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    grant_types: list[GrantType] = Field(
        default_factory=lambda: ["authorization_code", "refresh_token"], min_length=1
    )
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile"], max_length=20)
    acr_values: list[str] = Field(default_factory=lambda: [ACR_PASSWORD], max_length=5)
    auth_method: AuthMethod = "private_key_jwt"
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = Field(None, max_length=1024)
    require_par: bool = False
    require_dpop: bool = False
    logo_uri: str | None = Field(None, max_length=1024)
    status: Literal["active", "inactive"] = "active"


class ClientOut(BaseModel):
    """A registered client as shown to operators (never its secret)."""

    client_id: str
    name: str
    agency_id: str
    status: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[str]
    scopes: list[str]
    acr_values: list[str]
    auth_method: str
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    require_par: bool
    require_dpop: bool
    logo_uri: str | None
    created_at: datetime
    updated_at: datetime


class ClientCreated(BaseModel):
    """A new client, with its secret shown exactly once (client_secret_basic only)."""

    client: ClientOut
    client_secret: str | None = None


class ConsentOut(BaseModel):
    """A resident's consent for one service, for the consents page."""

    client_id: str
    client_name: str
    agency_id: str
    agency_name: str
    scopes: list[str]
    granted_at: datetime
