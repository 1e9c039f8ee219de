"""Settings of the demo provider backends (`SATU_PROVIDERS_*`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from satu.core.config import Settings


class ProviderSettings(BaseSettings):
    """Where the providers listen, keep their keys and data, and find Satu's keys."""

    model_config = SettingsConfigDict(env_prefix="SATU_PROVIDERS_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface the provider servers listen on")
    population_port: int = Field(8101, ge=1, le=65535, description="Population register port")
    dtks_port: int = Field(8102, ge=1, le=65535, description="DTKS register port")
    dtks_database_url: str = Field(
        "", description="The DTKS register's own database; empty: SQLite dtks.sqlite3 in var_dir"
    )
    jwks_url: str = Field(
        "", description="Satu's exchange keys (JWKS); empty: {public_url}/api/v1/exchange/keys"
    )
    key_dir: Path | None = Field(
        None, description="Where each provider keeps its Ed25519 key; empty: var_dir/providers"
    )
    signature_max_age_seconds: int = Field(
        300, ge=10, le=3600, description="Oldest request signature accepted (created)"
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted")

    def population_url(self) -> str:
        """The population register's base URL."""
        return f"http://{self.host}:{self.population_port}"

    def dtks_url(self) -> str:
        """The DTKS register's base URL."""
        return f"http://{self.host}:{self.dtks_port}"

    def jwks(self, core: Settings) -> str:
        """The JWKS URL the providers trust."""
        return self.jwks_url or f"{core.public_url}/api/v1/exchange/keys"

    def keys(self, core: Settings) -> Path:
        """The folder holding the providers' private keys."""
        return self.key_dir or core.var_dir / "providers"

    def dtks_database(self, core: Settings) -> str:
        """The DTKS database URL (creates var_dir for the SQLite default)."""
        if self.dtks_database_url:
            return self.dtks_database_url
        core.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(core.var_dir / 'dtks.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_provider_settings() -> ProviderSettings:
    """The provider settings of this process (read once)."""
    return ProviderSettings()
