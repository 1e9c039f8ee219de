"""Every workflow transition, deadline, escalation and the agency isolation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.complaints import service, statistics, workflow
from satu.complaints.models import Report
from satu.complaints.schemas import FiledReport, Officer
from satu.core.errors import Problem
from satu.core.notify import outbox_for

from .conftest import DINSOS, DUKCAPIL, REGENCY_GOV, officer

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta


def row(db: Session, filed: FiledReport) -> Report:
    report = db.get(Report, filed.id)
    assert report is not None
    return report


def test_verify_dispositions_and_starts_the_agency_clock(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file()
    case = workflow.verify(session=db, officer=verifier, report_id=filed.id, now=MONDAY)
    assert case.status == "dispositioned" and case.agency_id == DUKCAPIL
    assert case.followup_due == date(2026, 11, 9)
    assert case.settle_due == date(2027, 1, 1)
    assert [e.action for e in case.events] == ["filed", "verify"]


def test_only_verifiers_verify(db: Session, file: Callable[..., FiledReport]) -> None:
    filed = file()
    with pytest.raises(Problem) as caught:
        workflow.verify(session=db, officer=officer(DUKCAPIL), report_id=filed.id)
    assert caught.value.status == 403


def test_verifier_must_name_an_agency_when_routing_could_not(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file(region_code=None)
    assert filed.needs_verifier and filed.agency_id is None
    with pytest.raises(Problem):
        workflow.verify(session=db, officer=verifier, report_id=filed.id)
    case = workflow.verify(session=db, officer=verifier, report_id=filed.id, agency_id=DUKCAPIL)
    assert case.agency_id == DUKCAPIL


def test_postpone_then_reporter_reply_returns_to_verification(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file()
    case = workflow.postpone(
        session=db, officer=verifier, report_id=filed.id, message="Mohon sebutkan nomor NIK."
    )
    assert case.status == "postponed"
    status = workflow.reporter_reply(
        session=db, report=row(db, filed), message="Perekaman di kantor kecamatan Bakongan."
    )
    assert status == "unverified"


def test_archive_needs_a_reason_and_ends_the_case(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file()
    with pytest.raises(Problem):
        workflow.archive(session=db, officer=verifier, report_id=filed.id, reason="  ")
    case = workflow.archive(session=db, officer=verifier, report_id=filed.id, reason="Spam")
    assert case.status == "archived" and case.archive_reason == "Spam"
    with pytest.raises(Problem) as caught:
        workflow.verify(session=db, officer=verifier, report_id=filed.id)
    assert caught.value.status == 409


def test_not_our_authority_reroutes_never_a_dead_end(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file()
    workflow.verify(session=db, officer=verifier, report_id=filed.id)
    dukcapil = officer(DUKCAPIL)
    with pytest.raises(Problem):
        workflow.reroute(session=db, officer=dukcapil, report_id=filed.id, agency_id="", reason="x")
    with pytest.raises(Problem):
        workflow.reroute(
            session=db, officer=dukcapil, report_id=filed.id, agency_id="nowhere", reason="x"
        )
    case = workflow.reroute(
        session=db, officer=dukcapil, report_id=filed.id, agency_id=DINSOS, reason="Soal bansos"
    )
    assert case.agency_id == DINSOS and case.status == "dispositioned"
    # The old agency no longer sees it; the new one does.
    with pytest.raises(Problem):
        workflow.get_case(session=db, officer=dukcapil, report_id=filed.id)
    assert workflow.get_case(session=db, officer=officer(DINSOS), report_id=filed.id).id == filed.id


def test_forward_to_a_sub_unit_and_hand_back(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file(service_code="jalan-kabupaten")
    workflow.verify(session=db, officer=verifier, report_id=filed.id)
    government = officer(REGENCY_GOV)
    with pytest.raises(Problem):
        workflow.forward(session=db, officer=government, report_id=filed.id, unit_id="kemensos")
    case = workflow.forward(session=db, officer=government, report_id=filed.id, unit_id=DINSOS)
    assert case.agency_id == DINSOS
    case = workflow.hand_back(
        session=db, officer=officer(DINSOS), report_id=filed.id, reason="Bukan urusan Dinsos"
    )
    assert case.status == "unverified"
    forwarded = [e for e in case.events if e.action == "forward"]
    assert forwarded and not forwarded[0].public


def test_follow_up_answer_rate_closes(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file()
    workflow.verify(session=db, officer=verifier, report_id=filed.id, now=MONDAY)
    dukcapil = officer(DUKCAPIL)
    case = workflow.follow_up(
        session=db, officer=dukcapil, report_id=filed.id, now=MONDAY + timedelta(days=1)
    )
    assert case.status == "in_process"
    case = workflow.answer(
        session=db,
        officer=dukcapil,
        report_id=filed.id,
        message="KTP-el Anda sudah dicetak dan dapat diambil.",
        now=MONDAY + timedelta(days=3),
    )
    assert case.status == "done" and case.autoclose_due == date(2026, 11, 19)
    report = row(db, filed)
    assert report.on_time is True
    with pytest.raises(Problem):
        workflow.rate(session=db, report=report, rating=6)
    workflow.rate(session=db, report=report, rating=4)
    assert report.rating == 4 and report.closed_at is not None
    assert statistics.agency_on_time(session=db, agency_id=DUKCAPIL)["on_time"] >= 1
    messages = outbox_for(session=db, recipient="meutia@example.id")
    assert any("menjawab" in m.subject for m in messages)
    assert any("diterima" in m.subject for m in messages)
    assert all(filed.token in m.body for m in messages)


def test_reopen_only_once(db: Session, file: Callable[..., FiledReport], verifier: Officer) -> None:
    filed = file()
    workflow.verify(session=db, officer=verifier, report_id=filed.id)
    dukcapil = officer(DUKCAPIL)
    workflow.answer(session=db, officer=dukcapil, report_id=filed.id, message="Sudah selesai.")
    report = row(db, filed)
    with pytest.raises(Problem):
        workflow.reopen(session=db, report=report, reason="")
    assert workflow.reopen(session=db, report=report, reason="Belum juga jadi") == "in_process"
    workflow.answer(session=db, officer=dukcapil, report_id=filed.id, message="Kini sudah.")
    with pytest.raises(Problem) as caught:
        workflow.reopen(session=db, report=report, reason="Lagi")
    assert caught.value.status == 409


def test_internal_notes_never_reach_the_public(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file()
    workflow.verify(session=db, officer=verifier, report_id=filed.id)
    workflow.note(
        session=db, officer=officer(DUKCAPIL), report_id=filed.id, message="Catatan internal X1"
    )
    case = workflow.get_case(session=db, officer=officer(DUKCAPIL), report_id=filed.id)
    assert any(e.body == "Catatan internal X1" for e in case.events)
    public = service.public_report(session=db, number=filed.number)
    assert "Catatan internal X1" not in public.model_dump_json()
    assert (
        "Catatan internal X1" not in service.track(session=db, token=filed.token).model_dump_json()
    )


def test_merge_duplicates(db: Session, file: Callable[..., FiledReport], verifier: Officer) -> None:
    first = file()
    second = file(
        service_code="kartu-keluarga",
        body="Kartu keluarga saya belum juga dicetak "
        "walau berkas sudah lengkap sejak bulan lalu di kantor dinas.",
    )
    case = workflow.merge(
        session=db, officer=verifier, report_id=second.id, into_report_id=first.id
    )
    assert case.status == "archived" and case.duplicate_of == first.number
    with pytest.raises(Problem):
        workflow.merge(session=db, officer=verifier, report_id=first.id, into_report_id=first.id)


def test_agency_isolation(db: Session, file: Callable[..., FiledReport], verifier: Officer) -> None:
    filed = file()
    workflow.verify(session=db, officer=verifier, report_id=filed.id)
    outsider = officer("kab-11.02.disdukcapil")
    with pytest.raises(Problem) as caught:
        workflow.get_case(session=db, officer=outsider, report_id=filed.id)
    assert caught.value.status == 404
    with pytest.raises(Problem):
        workflow.answer(session=db, officer=outsider, report_id=filed.id, message="Bukan saya")
    page = workflow.queue(session=db, officer=outsider)
    assert filed.number not in [item.number for item in page.items]
    own = workflow.queue(session=db, officer=officer(DUKCAPIL))
    assert filed.number in [item.number for item in own.items]
    # The parent government sees it only once it escalates.
    with pytest.raises(Problem):
        workflow.get_case(session=db, officer=officer(REGENCY_GOV), report_id=filed.id)


def test_anonymous_reporter_is_hidden_from_the_agency(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file(
        anonymous=True,
        body="Saya Cut Nyak Meutia melapor: blangko KTP-el habis "
        "dan petugas meminta uang agar dicetak lebih cepat.",
    )
    workflow.verify(session=db, officer=verifier, report_id=filed.id)
    case = workflow.get_case(session=db, officer=officer(DUKCAPIL), report_id=filed.id)
    dumped = case.model_dump_json()
    assert case.reporter_name is None and case.reporter_email is None
    assert "Meutia" not in dumped and "meutia@example.id" not in dumped
    page = workflow.queue(session=db, officer=officer(DUKCAPIL))
    assert "Meutia" not in page.model_dump_json()


def test_overdue_cases_escalate_to_parent_then_ministry_then_ombudsman(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file()
    workflow.verify(session=db, officer=verifier, report_id=filed.id, now=MONDAY)
    report = row(db, filed)
    late = MONDAY + timedelta(days=10)  # follow-up was due 9 November
    counts = workflow.run_clock(session=db, now=late)
    assert counts["escalated"] >= 1
    assert report.escalation_level == 1 and report.escalated_to == REGENCY_GOV
    assert workflow.get_case(session=db, officer=officer(REGENCY_GOV), report_id=filed.id)
    assert filed.number in [
        i.number for i in workflow.queue(session=db, officer=officer(REGENCY_GOV)).items
    ]
    workflow.run_clock(session=db, now=late + timedelta(days=10))
    assert report.escalation_level == 2 and report.escalated_to == "kemendagri.dukcapil"
    assert workflow.get_case(session=db, officer=officer("kemendagri"), report_id=filed.id)
    workflow.run_clock(session=db, now=late + timedelta(days=20))
    assert report.escalation_level == 3 and report.escalated_to == "ombudsman"
    assert workflow.get_case(session=db, officer=officer("ombudsman"), report_id=filed.id)
    workflow.answer(session=db, officer=officer(DUKCAPIL), report_id=filed.id, message="Maaf.")
    assert report.on_time is False


def test_escalation_counts_working_days_across_holidays(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file()
    # Dispositioned Tuesday 17 March 2026: follow-up due 5 working days later, after Lebaran.
    workflow.verify(
        session=db,
        officer=verifier,
        report_id=filed.id,
        now=datetime(2026, 3, 17, 3, 0, tzinfo=UTC),
    )
    report = row(db, filed)
    assert report.followup_due == date(2026, 3, 31)
    workflow.run_clock(session=db, now=datetime(2026, 3, 31, 3, 0, tzinfo=UTC))
    assert report.escalation_level == 0
    workflow.run_clock(session=db, now=datetime(2026, 4, 1, 3, 0, tzinfo=UTC))
    assert report.escalation_level == 1


def test_answers_without_reply_auto_close_after_ten_working_days(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file()
    workflow.verify(session=db, officer=verifier, report_id=filed.id, now=MONDAY)
    workflow.answer(
        session=db, officer=officer(DUKCAPIL), report_id=filed.id, message="Selesai.", now=MONDAY
    )
    report = row(db, filed)
    assert report.autoclose_due == date(2026, 11, 16)
    workflow.run_clock(session=db, now=datetime(2026, 11, 16, 3, tzinfo=UTC))
    assert report.closed_at is None
    workflow.run_clock(session=db, now=datetime(2026, 11, 17, 3, tzinfo=UTC))
    assert report.closed_at is not None
    assert report.status == "done"


def test_a_reply_to_the_answer_stops_auto_close(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    filed = file()
    workflow.verify(session=db, officer=verifier, report_id=filed.id, now=MONDAY)
    workflow.answer(
        session=db, officer=officer(DUKCAPIL), report_id=filed.id, message="Selesai.", now=MONDAY
    )
    report = row(db, filed)
    workflow.reporter_reply(session=db, report=report, message="Terima kasih, sudah saya terima.")
    workflow.run_clock(session=db, now=datetime(2026, 12, 1, 3, tzinfo=UTC))
    assert report.closed_at is None


@pytest.mark.parametrize(
    ("action", "status"),
    [("follow_up", "unverified"), ("answer", "unverified"), ("forward", "unverified")],
)
def test_transitions_out_of_order_are_conflicts(
    db: Session, file: Callable[..., FiledReport], action: str, status: str
) -> None:
    filed = file()
    gov = Officer(account_id="x", agency_id=DUKCAPIL, verifier=True)
    kwargs = {"message": "teks"} if action != "forward" else {"unit_id": DINSOS}
    with pytest.raises(Problem) as caught:
        getattr(workflow, action)(session=db, officer=gov, report_id=filed.id, **kwargs)
    assert caught.value.status == 409
    assert db.scalars(select(Report.status).where(Report.id == filed.id)).one() == status


def test_agencies_keep_their_own_reply_templates(db: Session) -> None:
    own = workflow.add_reply_template(
        session=db, officer=officer(DUKCAPIL), title="Blangko tersedia", body="Silakan datang."
    )
    mine = workflow.reply_templates(session=db, agency_id=DUKCAPIL)
    theirs = workflow.reply_templates(session=db, agency_id=DINSOS)
    assert str(own) in [t["id"] for t in mine] and str(own) not in [t["id"] for t in theirs]
    assert len(theirs) >= 3  # the shared ones
    with pytest.raises(Problem):
        workflow.add_reply_template(session=db, officer=officer(DUKCAPIL), title="", body="x")
