"""Assigning a case to an officer of its agency: who may, to whom, history, "my cases"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.complaints import assignment, service, workflow
from satu.complaints.models import Event, Report
from satu.complaints.schemas import FiledReport, Officer
from satu.core.errors import Problem
from satu.identity import service as identity
from satu.identity.schemas import ResidentIn
from tests.identity.conftest import api_csrf

from .conftest import DINSOS, DUKCAPIL, REGENCY_GOV, VILLAGE, officer
from .test_views import CSRF, officer_client


def colleague(db: Session, serial: int, name: str, agency: str, role: str = "officer") -> str:
    """A real account with a role at `agency`; its account id."""
    nik = f"110101170890{serial:04d}"
    identity.register_resident(
        session=db,
        data=ResidentIn(
            nik=nik,
            full_name=name,
            birth_place="Tapaktuan",
            birth_date=date(1990, 8, 17),
            sex="M",
            village_code=VILLAGE,
            kk_number=f"110101010190{serial:04d}",
        ),
    )
    account = identity.create_account(session=db, nik=nik, password="kopi-tubruk-pagi-hari-7")
    identity.grant_role(session=db, account_id=account.id, role=role, agency_id=agency)
    return account.id


def acting(account_id: str, agency: str) -> Officer:
    return Officer(account_id=account_id, agency_id=agency)


@pytest.fixture
def case(db: Session, file: Callable[..., FiledReport], verifier: Officer) -> int:
    """A report verified and dispositioned to Aceh Selatan's Disdukcapil."""
    filed = file()
    workflow.verify(session=db, officer=verifier, report_id=filed.id)
    return filed.id


def test_an_officer_of_the_agency_assigns_reassigns_and_unassigns(db: Session, case: int) -> None:
    ana = colleague(db, 9301, "Ana Petugas", DUKCAPIL)
    budi = colleague(db, 9302, "Budi Petugas", DUKCAPIL, role="verifier")
    assert {o["account_id"] for o in assignment.officers_of(session=db, agency_id=DUKCAPIL)} >= {
        ana,
        budi,
    }
    out = assignment.assign(
        session=db, officer=acting(ana, DUKCAPIL), report_id=case, assignee_id=budi
    )
    assert out.assignee_id == budi and out.assignee_name == "Budi Petugas"
    mine = workflow.queue(session=db, officer=acting(budi, DUKCAPIL), mine=True)
    assert [item.id for item in mine.items] == [case] and mine.items[0].assignee_id == budi
    assert workflow.queue(session=db, officer=acting(ana, DUKCAPIL), mine=True).total == 0
    # Reassign, then unassign: each step is in the (internal) history.
    assignment.assign(session=db, officer=acting(budi, DUKCAPIL), report_id=case, assignee_id=ana)
    out = assignment.assign(
        session=db, officer=acting(ana, DUKCAPIL), report_id=case, assignee_id=None
    )
    assert out.assignee_id is None and out.assignee_name is None
    steps = [(e.action, e.public, e.body) for e in out.events if "assign" in e.action]
    assert steps == [
        ("assign", False, "Budi Petugas"),
        ("assign", False, "Ana Petugas"),
        ("unassign", False, ""),
    ]
    events = db.scalars(
        select(Event).where(Event.report_id == case, Event.action == "assign")
    ).all()
    assert [(e.actor_id, e.detail) for e in events] == [
        (ana, {"from": None, "to": budi}),
        (budi, {"from": budi, "to": ana}),
    ]
    # The reporter and the public never see who handles it inside the agency.
    number = db.get(Report, case).number  # type: ignore[union-attr]
    public = service.public_report(session=db, number=number)
    assert all("assign" not in e.action for e in public.events)


def test_only_an_officer_of_the_cases_agency_may_assign(
    db: Session, case: int, verifier: Officer
) -> None:
    ana = colleague(db, 9311, "Ana Petugas", DUKCAPIL)
    with pytest.raises(Problem) as caught:  # another agency does not even see the case
        assignment.assign(session=db, officer=officer(DINSOS), report_id=case, assignee_id=ana)
    assert caught.value.status == 404
    # The regency government sees its unit's case once escalated, but does not assign it.
    report = db.get(Report, case)
    assert report is not None
    report.escalation_level, report.escalated_to = 1, REGENCY_GOV
    db.flush()
    with pytest.raises(Problem) as caught:
        assignment.assign(session=db, officer=officer(REGENCY_GOV), report_id=case, assignee_id=ana)
    assert caught.value.status == 403
    # Nor does a national verifier acting for the platform agency.
    with pytest.raises(Problem) as caught:
        assignment.assign(session=db, officer=verifier, report_id=case, assignee_id=ana)
    assert caught.value.status == 403
    assert report.assignee_id is None


def test_the_assignee_must_be_an_active_officer_of_that_agency(db: Session, case: int) -> None:
    ana = colleague(db, 9321, "Ana Petugas", DUKCAPIL)
    stranger = colleague(db, 9322, "Citra Dinsos", DINSOS)
    gone = colleague(db, 9323, "Dedi Pensiun", DUKCAPIL)
    identity.set_account_status(session=db, account_id=gone, status="disabled", actor="test")
    for wanted in (stranger, gone, "no-such-account", "x" * 64):
        with pytest.raises(Problem) as caught:
            assignment.assign(
                session=db, officer=acting(ana, DUKCAPIL), report_id=case, assignee_id=wanted
            )
        assert caught.value.status == 422
    assert db.get(Report, case).assignee_id is None  # type: ignore[union-attr]
    assert not db.scalars(
        select(Event).where(Event.report_id == case, Event.action == "assign")
    ).all()
    assignment.assign(session=db, officer=acting(ana, DUKCAPIL), report_id=case, assignee_id=ana)
    with pytest.raises(Problem) as caught:  # the same again: nothing to change
        assignment.assign(
            session=db, officer=acting(ana, DUKCAPIL), report_id=case, assignee_id=ana
        )
    assert caught.value.status == 409


def test_the_assignment_ends_when_the_case_leaves_the_agency(db: Session, case: int) -> None:
    ana = colleague(db, 9331, "Ana Petugas", DUKCAPIL)
    assignment.assign(session=db, officer=acting(ana, DUKCAPIL), report_id=case, assignee_id=ana)
    out = workflow.reroute(
        session=db,
        officer=acting(ana, DUKCAPIL),
        report_id=case,
        agency_id=DINSOS,
        reason="Ini urusan data bansos, bukan KTP-el.",
    )
    assert out.agency_id == DINSOS and out.assignee_id is None


def test_assign_over_http_with_my_cases(client: TestClient, db: Session, case: int) -> None:
    budi = colleague(db, 9341, "Budi Petugas", DUKCAPIL)
    stranger = colleague(db, 9342, "Citra Dinsos", DINSOS)
    number = db.get(Report, case).number  # type: ignore[union-attr]
    officer_client(client, db, 9343, "officer", DUKCAPIL)
    page = client.get(f"/petugas/pengaduan/{case}")
    assert page.status_code == 200 and "Budi Petugas" in page.text
    assert 'name="assignee_id"' in page.text and "Citra Dinsos" not in page.text
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    done = client.post(
        f"/petugas/pengaduan/{case}",
        data={"csrf_token": token, "action": "assign", "assignee_id": budi},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = client.get(f"/petugas/pengaduan/{case}")
    assert "Ditugaskan kepada" in shown.text and "Budi Petugas" in shown.text
    api_csrf(client)  # the JSON API below is signed in by the same browser session
    refused = client.post(
        f"/api/v1/complaints/cases/{case}/actions",
        json={"action": "assign", "assignee_id": stranger},
    )
    assert refused.status_code == 422
    mine = client.get("/api/v1/complaints/cases?mine=true").json()
    assert mine["total"] == 0  # assigned to Budi, not to the signed-in officer
    taken = client.post(
        f"/api/v1/complaints/cases/{case}/actions",
        json={"action": "assign", "assignee_id": _me(db, 9343)},
    )
    assert taken.status_code == 200 and taken.json()["assignee_name"] == "Petugas Uji"
    assert client.get("/api/v1/complaints/cases?mine=true").json()["total"] == 1
    assert number in client.get("/petugas/pengaduan?mine=1").text


def _me(db: Session, serial: int) -> str:
    account = identity.account_for_nik(session=db, nik=f"110101170890{serial:04d}")
    assert account is not None
    return account.id
