"""Intake: validation, enforcement of anonymity and confidentiality, preview, duplicates."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu.complaints import service
from satu.complaints.models import Event, Report
from satu.complaints.schemas import FiledReport, Reporter
from satu.core.errors import Problem

from .conftest import DUKCAPIL, VILLAGE, report_in


def count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Report)) or 0


def test_a_report_is_filed_routed_and_put_on_the_clock(
    db: Session, file: Callable[..., FiledReport]
) -> None:
    filed = file()
    assert filed.status == "unverified"
    assert filed.agency_id == DUKCAPIL
    assert not filed.needs_verifier
    row = db.get(Report, filed.id)
    assert row is not None
    assert row.number == filed.number and len(filed.number) == 10
    assert row.verify_due is not None and row.verify_due > row.created_at.date()
    assert row.province_code == "11" and row.regency_code == "11.01"
    events = db.scalars(select(Event).where(Event.report_id == filed.id)).all()
    assert [e.action for e in events] == ["filed"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", "   "),
        ("title", "x" * 151),
        ("body", "terlalu pendek"),
        ("body", "x" * 5001),
        ("kind", "gossip"),
        ("latitude", 48.8),
        ("reporter_email", "bukan-surel"),
        ("reporter_phone", "0812-abc"),
    ],
)
def test_bad_fields_are_refused_by_the_schema(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        report_in(**{field: value})


def test_unknown_service_region_or_category_is_refused_and_nothing_is_stored(
    db: Session, file: Callable[..., FiledReport]
) -> None:
    before = count(db)
    for overrides, field in (
        ({"service_code": "no-such-service"}, "service_code"),
        ({"region_code": "99.99"}, "region_code"),
        ({"category_code": "no-such"}, "category_code"),
    ):
        with pytest.raises(Problem) as caught:
            file(**overrides)
        assert caught.value.status == 422
        assert field in (caught.value.detail or "")
    assert count(db) == before


def test_control_characters_do_not_count_towards_the_minimum(
    file: Callable[..., FiledReport],
) -> None:
    with pytest.raises(Problem):
        file(title="\x00\x01\x02\x03\x04\x05")


def test_script_injection_is_stored_as_text(db: Session, file: Callable[..., FiledReport]) -> None:
    script = "<script>alert('x')</script> KTP-el saya tidak kunjung jadi sejak Maret."
    filed = file(title="<img src=x onerror=alert(1)>", body=script)
    row = db.get(Report, filed.id)
    assert row is not None
    assert row.body == script and row.title == "<img src=x onerror=alert(1)>"


def test_whistleblowing_is_always_anonymous_and_confidential(
    file: Callable[..., FiledReport],
) -> None:
    filed = file(kind="whistleblowing", anonymous=False, confidential=False)
    assert filed.anonymous and filed.confidential


def test_confidential_reports_do_not_exist_publicly(
    db: Session, file: Callable[..., FiledReport]
) -> None:
    filed = file(confidential=True)
    with pytest.raises(Problem) as caught:
        service.public_report(session=db, number=filed.number)
    assert caught.value.status == 404
    # The reporter still follows it with the token.
    assert service.track(session=db, token=filed.token).number == filed.number


def test_public_view_redacts_personal_data_and_hides_the_anonymous(
    db: Session, file: Callable[..., FiledReport]
) -> None:
    body = (
        "Nama saya Cut Nyak Meutia, NIK 1101014101900001, HP 081234567890, surel "
        "meutia@example.id. KTP-el saya belum dicetak sejak tiga bulan lalu."
    )
    named = file(body=body)
    view = service.public_report(session=db, number=named.number)
    assert view.reporter == "Cut"
    for secret in ("1101014101900001", "081234567890", "meutia@example.id", "Nyak Meutia"):
        assert secret not in view.body
    anonymous = file(body=body, anonymous=True, service_code="akta-kelahiran")
    hidden = service.public_report(session=db, number=anonymous.number)
    assert hidden.reporter == "Anonim"
    assert "Meutia" not in hidden.model_dump_json()


def test_preview_says_what_will_be_public(db: Session) -> None:
    shown = service.preview(session=db, data=report_in(anonymous=True))
    assert shown.public and not shown.identity_visible_to_agency and not shown.identity_public
    assert shown.public_view is not None and shown.public_view.reporter == "Anonim"
    secret = service.preview(session=db, data=report_in(kind="whistleblowing"))
    assert not secret.public and secret.public_view is None
    assert not secret.identity_visible_to_agency


def test_near_identical_report_is_linked_not_lost(
    db: Session, file: Callable[..., FiledReport]
) -> None:
    first = file()
    second = file(
        title="Blangko KTP-el habis sejak dua bulan!",
        body="Saya sudah merekam KTP-el di Disdukcapil, tetapi kartu belum dicetak karena "
        "blangko habis. Petugas meminta saya kembali bulan depan tanpa kepastian!!",
    )
    assert second.duplicate_of == first.number
    assert db.get(Report, first.id).supporters == 1  # type: ignore[union-attr]
    elsewhere = file(region_code="11.01.01.2002")
    assert elsewhere.duplicate_of is None
    other_service = file(service_code="kartu-keluarga")
    assert other_service.duplicate_of is None


@pytest.mark.parametrize("secret", [{"confidential": True}, {"kind": "whistleblowing"}])
def test_confidential_reports_are_never_offered_as_duplicates(
    client: TestClient, db: Session, file: Callable[..., FiledReport], secret: dict
) -> None:
    hidden = file(**secret)
    assert hidden.confidential
    again = file()  # the same text, the same service and place, filed publicly
    assert again.duplicate_of is None
    assert db.get(Report, hidden.id).supporters == 0  # type: ignore[union-attr]
    db.commit()
    over_http = client.post("/api/v1/complaints", json=report_in().model_dump(mode="json"))
    assert over_http.status_code == 201 and over_http.json()["duplicate_of"] in (
        None,
        again.number,
    )
    assert hidden.number not in over_http.text


def test_me_too_counts_once_per_person(db: Session, file: Callable[..., FiledReport]) -> None:
    filed = file()
    first = service.supporter_key(account_id=None, ip="198.51.100.7")
    assert service.support(session=db, number=filed.number, supporter=first) == 1
    assert service.support(session=db, number=filed.number, supporter=first) == 1
    other = service.supporter_key(account_id="acc-2", ip="198.51.100.7")
    assert service.support(session=db, number=filed.number, supporter=other) == 2


def test_attachments_are_checked_and_cleaned(db: Session) -> None:
    import io

    from PIL import Image

    image = Image.new("RGB", (40, 30), (200, 10, 10))
    exif = Image.Exif()
    exif[0x010F] = "KameraRahasia"  # Make
    exif[0x8825] = {2: (6.0, 10.0, 0.0)}  # GPS info
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    raw = buffer.getvalue()
    assert b"KameraRahasia" in raw
    filed = service.file_report(
        session=db,
        data=report_in(),
        reporter=Reporter(),
        attachments=[("../../etc/foto jalan.jpeg", raw)],
    )
    from satu.complaints.models import Attachment

    stored = db.scalars(select(Attachment).where(Attachment.report_id == filed.id)).one()
    assert stored.content_type == "image/jpeg"
    assert stored.filename == "foto_jalan.jpg"
    assert b"KameraRahasia" not in stored.data and b"Exif" not in stored.data
    assert Image.open(io.BytesIO(stored.data)).size == (40, 30)


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("foto.jpg", b"%PDF-1.7 pretending to be a photo", 415),
        ("foto.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 415),
        ("kosong.jpg", b"", 422),
        ("skrip.jpg", b"<script>alert(1)</script>", 415),
    ],
)
def test_files_that_lie_about_their_type_are_refused_and_nothing_is_stored(
    db: Session, name: str, content: bytes, status: int
) -> None:
    before = count(db)
    with pytest.raises(Problem) as caught:
        service.file_report(
            session=db, data=report_in(), reporter=Reporter(), attachments=[(name, content)]
        )
    assert caught.value.status == status
    assert count(db) == before


def test_oversized_attachment_is_refused(db: Session) -> None:
    big = b"\xff\xd8\xff" + b"\x00" * (4 * 1024 * 1024)
    with pytest.raises(Problem) as caught:
        service.file_report(
            session=db, data=report_in(), reporter=Reporter(), attachments=[("a.jpg", big)]
        )
    assert "larger" in (caught.value.detail or "")


def test_region_at_village_level_is_required_only_to_be_real(
    file: Callable[..., FiledReport],
) -> None:
    assert file(region_code=VILLAGE).agency_id == DUKCAPIL
