"""`satu demo` seeds complaints once and trains the classifier; a second run adds nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu import demo
from satu.complaints import classifier, service
from satu.complaints.models import Report


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Report)) or 0


def test_demo_seeds_once_and_trains(db: Session, tmp_path: Path) -> None:
    assert ("complaints", service.seed_demo) in demo.domain_seeders()
    assert any("/pengaduan" in note for note in demo.demo_notes())
    model = tmp_path / "classifier.joblib"
    target = _count(db) + 400
    try:
        first = service.seed_demo(session=db, reports=target, model_path=model)
        assert first["reports added"] == 400 and first["classifier trained on"] > 30
        assert model.is_file() and _count(db) == target
        second = service.seed_demo(session=db, reports=target, model_path=model)
        assert second == {"reports added": 0, "classifier trained on": 0}
        assert _count(db) == target
    finally:
        classifier.forget(session=db)
