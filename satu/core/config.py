"""Settings from `SATU_*` environment variables, with safe defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _default_shared_data() -> Path:
    """`../shared/data` beside the checkout, else `./shared/data`."""
    for candidate in (PACKAGE_DIR.parent.parent / "shared" / "data", Path("shared/data")):
        if candidate.is_dir():
            return candidate
    return PACKAGE_DIR.parent.parent / "shared" / "data"


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    """Process-wide configuration; every field can be set as `SATU_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="SATU_", extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        "development", description="development, test or production"
    )
    var_dir: Path = Field(Path("var"), description="Where the embedded SQLite file lives")
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in var_dir")
    data_dir: Path = Field(default_factory=_default_shared_data)
    max_json_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_form_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_upload_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    default_locale: str = "id"
    log_level: str = "INFO"
    log_json: bool = True
    public_url: str = "http://127.0.0.1:8000"
    db_pool_size: int = Field(10, ge=1)
    db_echo: bool = False
    secret_key: str = Field(
        "", description="Signs CSRF tokens; empty: a random key kept in var_dir"
    )
    redis_url: str = Field(
        "",
        description="Shared store for rate limits (redis://host:port/db); empty: per process",
    )
    exchange_instance: str = Field(
        "ID", pattern=r"^[A-Za-z0-9_.-]{1,50}$", description="X-Road instance identifier"
    )
    exchange_allow_private_urls: bool | None = Field(
        None,
        description="Let exchange push URLs and service base URLs name loopback or private "
        "addresses; empty: allowed in development and test, refused in production",
    )

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in ("id", "en"):
            raise ValueError("default_locale must be 'id' or 'en'")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(_LOG_LEVELS)}")
        return level

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
            raise ValueError("public_url must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    @property
    def effective_database_url(self) -> str:
        """The URL to connect to; creates `var_dir` for the embedded SQLite default."""
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.var_dir / 'satu.sqlite3').resolve()}"

    @property
    def exchange_private_urls_allowed(self) -> bool:
        """Whether exchange URLs may name loopback/private addresses (see the field)."""
        if self.exchange_allow_private_urls is not None:
            return self.exchange_allow_private_urls
        return self.env != "production"

    @property
    def wilayah_dir(self) -> Path:
        return self.data_dir / "wilayah"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (read once)."""
    return Settings()
