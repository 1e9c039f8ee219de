"""Demo content for `satu demo`: a few thousand seeded reports and a trained classifier."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu.complaints import classifier
from satu.complaints.models import Report
from satu.complaints.seed import seed_reports

DEMO_REPORTS = 3000
DEMO_SEED = 2026


def seed_demo(
    *, session: Session, reports: int = DEMO_REPORTS, model_path: Path | None = None
) -> dict[str, int]:
    """Top the reports up to `reports` (idempotent) and train the classifier when needed."""
    path = model_path or classifier.default_path()
    count = session.scalar(select(func.count()).select_from(Report)) or 0
    added = 0
    if count < reports:
        added = seed_reports(session=session, n=reports - count, seed=DEMO_SEED)
    trained = 0
    if added or not path.is_file():
        try:
            trained = classifier.train(session=session, path=path).trained_on
        except ValueError:
            trained = 0  # too little verified history to learn from: routing uses the rules
    return {"reports added": added, "classifier trained on": trained}


def demo_notes() -> list[str]:
    """Where the complaint pages are, for the person running the demo."""
    return [
        "Pengaduan / complaints: /pengaduan (lapor), /pengaduan/statistik (statistik publik), "
        "/open311/v2/discovery.json (Open311); petugas: /petugas/pengaduan "
        "(masuk sebagai admin demo untuk tampilan verifikator nasional).",
    ]
