"""Settings: `SATU_*` environment variables over safe defaults; bad values fail fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from satu.core.config import Settings, get_settings
from satu.core.db import make_engine

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No `SATU_*` variable except the test run's var dir."""
    for name in list(os.environ):
        if name.startswith("SATU_") and name != "SATU_VAR_DIR":
            monkeypatch.delenv(name)
    return monkeypatch


def test_safe_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.env == "development"
    assert settings.database_url == ""
    assert settings.max_json_body_bytes == 1024 * 1024
    assert settings.default_locale == "id"
    assert settings.log_json is True
    assert settings.log_level == "INFO"
    assert settings.db_echo is False


def test_environment_overrides_defaults(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SATU_ENV", "production")
    clean_env.setenv("SATU_DEFAULT_LOCALE", "en")
    clean_env.setenv("SATU_LOG_LEVEL", "debug")
    clean_env.setenv("SATU_LOG_JSON", "false")
    clean_env.setenv("SATU_MAX_JSON_BODY_BYTES", "65536")
    clean_env.setenv("SATU_PUBLIC_URL", "https://satu.example.go.id/")
    clean_env.setenv("SATU_DATABASE_URL", "postgresql+psycopg://satu@db/satu")
    settings = Settings()
    assert settings.env == "production"
    assert settings.default_locale == "en"
    assert settings.log_level == "DEBUG"
    assert settings.log_json is False
    assert settings.max_json_body_bytes == 65536
    assert settings.public_url == "https://satu.example.go.id"
    assert settings.effective_database_url == "postgresql+psycopg://satu@db/satu"


def test_unknown_satu_variables_are_ignored(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SATU_SOMETHING_ELSE", "x")
    Settings()


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("SATU_DEFAULT_LOCALE", "fr", "default_locale"),
        ("SATU_MAX_JSON_BODY_BYTES", "-1", "max_json_body_bytes"),
        ("SATU_MAX_JSON_BODY_BYTES", "lots", "max_json_body_bytes"),
        ("SATU_MAX_FORM_BODY_BYTES", "0", "max_form_body_bytes"),
        ("SATU_MAX_UPLOAD_BODY_BYTES", "-5", "max_upload_body_bytes"),
        ("SATU_DB_POOL_SIZE", "0", "db_pool_size"),
        ("SATU_LOG_LEVEL", "LOUD", "log_level"),
        ("SATU_LOG_JSON", "perhaps", "log_json"),
        ("SATU_ENV", "staging-ish", "env"),
        ("SATU_PUBLIC_URL", "satu.example.go.id", "public_url"),
    ],
)
def test_bad_values_fail_with_the_field_name(
    clean_env: pytest.MonkeyPatch, name: str, value: str, field: str
) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert field in str(caught.value)
    assert caught.value.error_count() == 1


def test_bad_value_stops_the_app_at_start_with_a_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATU_")}
    env.update(SATU_VAR_DIR=str(tmp_path), SATU_DEFAULT_LOCALE="fr")
    result = subprocess.run(
        [sys.executable, "-c", "from satu.app import create_app; create_app()"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "default_locale" in result.stderr
    assert "'id' or 'en'" in result.stderr
    assert not any(tmp_path.iterdir()), "nothing may be created before settings are valid"


def test_default_sqlite_lives_under_var_dir_and_is_created_on_first_use(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    var_dir = tmp_path / "nested" / "var"
    clean_env.setenv("SATU_VAR_DIR", str(var_dir))
    settings = Settings()
    assert not var_dir.exists()
    url = settings.effective_database_url
    assert var_dir.is_dir()
    database = var_dir / "satu.sqlite3"
    assert url == f"sqlite:///{database.resolve()}"
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
    assert database.is_file()


def test_tests_never_point_at_the_checkout_var_dir() -> None:
    configured = Path(os.environ["SATU_VAR_DIR"]).resolve()
    assert configured != (REPO / "var").resolve()
    assert configured != Path("var").resolve()
    assert Settings().var_dir.resolve() == configured
    assert str((REPO / "var").resolve()) not in get_settings().effective_database_url


def test_get_settings_is_read_once() -> None:
    assert get_settings() is get_settings()
