"""Helpers for complaint tests: a report builder and officers of real registry agencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from satu.complaints import service
from satu.complaints.schemas import FiledReport, Officer, Reporter, ReportIn

VILLAGE = "11.01.01.2001"  # Keude Bakongan, Kabupaten Aceh Selatan, Aceh
REGENCY_GOV = "kab-11.01"
DUKCAPIL = "kab-11.01.disdukcapil"
DINSOS = "kab-11.01.dinsos"


def report_in(**overrides: Any) -> ReportIn:
    """A valid report about KTP-el in a village of Aceh Selatan, with overrides."""
    data: dict[str, Any] = {
        "title": "Blangko KTP-el habis sejak dua bulan",
        "body": "Saya sudah merekam KTP-el di Disdukcapil tetapi kartu belum dicetak karena "
        "blangko habis. Petugas meminta saya kembali bulan depan tanpa kepastian.",
        "service_code": "ktp-el",
        "region_code": VILLAGE,
        "reporter_name": "Cut Nyak Meutia",
        "reporter_email": "meutia@example.id",
    }
    data.update(overrides)
    return ReportIn(**data)


@pytest.fixture
def file(db: Session) -> Callable[..., FiledReport]:
    """File a report through the real intake."""

    def _file(channel: str = "web", account_id: str | None = None, **overrides: Any) -> FiledReport:
        return service.file_report(
            session=db,
            data=report_in(**overrides),
            reporter=Reporter(channel=channel, account_id=account_id, ip="192.0.2.1"),
        )

    return _file


@pytest.fixture
def verifier() -> Officer:
    """A platform verifier."""
    return Officer(account_id="verifier-1", agency_id="kemenpan-rb", verifier=True, national=True)


def officer(agency_id: str) -> Officer:
    """An officer of one agency (no verifier rights)."""
    return Officer(account_id=f"officer@{agency_id}", agency_id=agency_id, verifier=False)
