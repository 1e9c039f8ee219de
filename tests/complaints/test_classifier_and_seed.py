"""Seeded history, and the classifier trained on it (held-out accuracy printed)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu.complaints import classifier, service
from satu.complaints.models import Event, Report
from satu.complaints.routing import route
from satu.complaints.schemas import Reporter
from satu.complaints.seed import seed_reports
from satu.complaints.text import tokens

from .conftest import report_in


@pytest.fixture
def seeded(db: Session) -> Iterator[int]:
    before = db.scalar(select(func.count()).select_from(Report)) or 0
    written = seed_reports(session=db, n=3000, seed=7)
    assert written == 3000
    yield before
    classifier.forget(session=db)


def workflow_parent(db: Session, agency_id: str) -> str | None:
    from satu.satudata import service as satudata

    chain = satudata.agency_ancestors(session=db, agency_id=agency_id)
    return chain[-1].id if chain else None


def test_tokens_are_indonesian_aware() -> None:
    assert tokens("Pelayanan KTP-el yang sangat lambat, dan blangkonya HABIS!!") == [
        "layan",
        "ktp",
        "el",
        "lambat",
        "blangko",
        "habis",
    ]
    assert tokens("<script>alert(1)</script>") == ["script", "alert", "script"]


def test_seed_writes_realistic_routed_history(db: Session, seeded: int) -> None:
    total = db.scalar(select(func.count()).select_from(Report))
    assert total == seeded + 3000
    statuses = Counter(db.scalars(select(Report.status)).all())
    for status in ("unverified", "dispositioned", "in_process", "done", "archived", "postponed"):
        assert statuses[status] > 0, status
    assert db.scalar(select(func.count()).select_from(Event)) > 3000 * 3
    sample = db.scalars(
        select(Report).where(Report.routing_note == "seed").order_by(Report.id).limit(200)
    ).all()
    for report in sample:
        expected = route(
            session=db,
            service_code=report.service_code,
            category_code=report.category_code,
            region_code=report.region_code,
        )
        assert report.agency_id == expected.agency_id
    whistle = db.scalars(select(Report).where(Report.kind == "whistleblowing")).all()
    assert whistle and all(r.anonymous and r.confidential for r in whistle)
    seeded_rows = select(func.count()).select_from(Report).where(Report.routing_note == "seed")
    assert db.scalar(seeded_rows.where(Report.rating.is_not(None))) > 0
    assert db.scalar(seeded_rows.where(Report.escalation_level > 0)) > 0
    escalated = db.scalars(
        select(Report).where(Report.routing_note == "seed", Report.escalation_level > 0).limit(20)
    ).all()
    for report in escalated:
        parent = workflow_parent(db, report.agency_id)
        assert report.escalated_to == (parent or "ombudsman")
    assert db.scalar(seeded_rows.where(Report.on_time.is_(True))) > 0
    assert db.scalar(seeded_rows.where(Report.closed_at.is_not(None))) > 0


def test_classifier_held_out_accuracy(db: Session, seeded: int) -> None:
    texts, services, mapping = classifier.history(session=db)
    pairs = list(zip(texts, services, strict=True))
    random.Random(3).shuffle(pairs)
    cut = int(len(pairs) * 0.8)
    train, test = pairs[:cut], pairs[cut:]
    model = classifier.fit([t for t, _ in train], [s for _, s in train], mapping)
    accuracy = model.accuracy([t for t, _ in test], [s for _, s in test])
    print(f"\nclassifier held-out accuracy: {accuracy:.3f} on {len(test)} reports "
          f"({len(set(services))} services, trained on {len(train)})")  # fmt: skip
    assert accuracy >= 0.75
    service_code, category, confidence = model.predict(
        "Bantuan PKH tahap ini tidak cair ke rekening KKS, pendamping tidak bisa dihubungi"
    )
    assert service_code == "pkh" and category == "perlindungan-sosial" and confidence > 0.3


def test_classifier_routes_generic_reports_or_leaves_them_to_a_verifier(
    db: Session, seeded: int
) -> None:
    classifier.train(session=db)
    confident = service.file_report(
        session=db,
        data=report_in(
            service_code="pelayanan-lainnya",
            title="Blangko KTP-el habis di Disdukcapil",
            body="Saya sudah rekam KTP-el tetapi blangko KTP-el habis, petugas meminta kembali "
            "bulan depan. KTP-el belum dicetak.",
        ),
        reporter=Reporter(),
    )
    report = db.get(Report, confident.id)
    assert report is not None and report.suggested_service == "ktp-el"
    assert report.suggestion_confidence is not None
    if report.suggestion_confidence >= 0.6:
        assert confident.agency_id == "kab-11.01.disdukcapil" and not confident.needs_verifier
    vague = service.file_report(
        session=db,
        data=report_in(
            service_code="pelayanan-lainnya",
            title="Mohon perhatian bapak ibu",
            body="Tolong diperhatikan keadaan kami di sini sudah lama sekali tidak ada kabar.",
        ),
        reporter=Reporter(),
    )
    vague_row = db.get(Report, vague.id)
    assert vague_row is not None
    assert vague_row.suggestion_confidence is not None
    assert vague_row.suggestion_confidence < 0.6
    assert vague.needs_verifier


def test_classifier_refuses_too_little_history() -> None:
    with pytest.raises(ValueError, match="at least"):
        classifier.fit(["a b c"] * 5, ["x"] * 5, {"x": "y"})
