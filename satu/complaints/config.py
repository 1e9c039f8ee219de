"""Complaint settings from `SATU_COMPLAINTS_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR = Path(__file__).parent / "data"


class ComplaintSettings(BaseSettings):
    """Deadlines, escalation, limits and the holiday calendar; each settable as an env var."""

    model_config = SettingsConfigDict(env_prefix="SATU_COMPLAINTS_", extra="ignore")

    holidays_file: Path = Field(DATA_DIR / "holidays.csv", description="date,kind,name CSV")
    verify_within_days: int = Field(3, ge=1, description="working days to verify")
    follow_up_within_days: int = Field(5, ge=1, description="working days after disposition")
    settle_within_days: int = Field(60, ge=1, description="calendar days after a complete file")
    autoclose_after_days: int = Field(10, ge=1, description="working days after an answer")
    escalate_to_ombudsman: bool = Field(True, description="after the ministry, the Ombudsman")
    ombudsman_agency_id: str = "ombudsman"
    platform_agency_id: str = Field(
        "kemenpan-rb", description="its verifiers verify every agency's reports (national view)"
    )
    classifier_threshold: float = Field(0.6, ge=0, le=1)
    jurisdiction_id: str = "satu.go.id"
    max_title_chars: int = 150
    max_body_chars: int = 5000
    max_attachments: int = 5
    max_attachment_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    rate_per_ip_per_hour: int = Field(30, ge=1)
    rate_per_account_per_hour: int = Field(20, ge=1)
    rate_per_api_key_per_hour: int = Field(3000, ge=1)


@lru_cache(maxsize=1)
def get_complaint_settings() -> ComplaintSettings:
    """The complaint settings of this process (read once)."""
    return ComplaintSettings()
