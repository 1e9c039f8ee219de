"""Who sees which case: national vs agency verifiers, and one rule for queues and case views."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from satu.complaints import service, workflow
from satu.complaints.models import Report
from satu.complaints.schemas import STATUSES, FiledReport, Officer
from satu.core.errors import Problem

from .conftest import DINSOS, DUKCAPIL, REGENCY_GOV, officer
from .test_views import officer_client

OTHER_REGENCY = "kab-11.02"
PROVINCE = "prov-11"


def test_only_platform_verifiers_and_admins_get_the_national_view() -> None:
    def acting(roles: dict[str, set[str]], agency: str | None = None, admin: bool = False):
        return service.officer_for(
            agency_ids=sorted(roles),
            roles=roles,
            account_id="a",
            agency=agency,
            is_admin=admin,
        )

    platform = acting({"kemenpan-rb": {"verifier"}})
    assert platform.verifier and platform.national
    assert acting({}, admin=True).national
    regency = acting({OTHER_REGENCY: {"verifier"}})
    assert regency.verifier and not regency.national
    # Verifier rights at one agency do not follow the officer to another agency they serve.
    elsewhere = acting({DUKCAPIL: {"officer"}, OTHER_REGENCY: {"verifier"}}, agency=DUKCAPIL)
    assert elsewhere.agency_id == DUKCAPIL and not elsewhere.verifier and not elsewhere.national
    # A platform verifier acting for another agency keeps the national view.
    both = acting({"kemenpan-rb": {"verifier"}, DUKCAPIL: {"officer"}}, agency=DUKCAPIL)
    assert both.national


def test_a_regency_verifier_sees_only_its_own_unverified_reports(
    db: Session, file: Callable[..., FiledReport]
) -> None:
    filed = file()  # routed to Aceh Selatan's Disdukcapil, unverified
    regency_verifier = service.officer_for(
        agency_ids=[OTHER_REGENCY],
        roles={OTHER_REGENCY: {"verifier"}},
        account_id="v-aceh-tenggara",
        agency=None,
    )
    with pytest.raises(Problem) as caught:
        workflow.get_case(session=db, officer=regency_verifier, report_id=filed.id)
    assert caught.value.status == 404
    with pytest.raises(Problem):
        workflow.verify(session=db, officer=regency_verifier, report_id=filed.id)
    queued = workflow.queue(session=db, officer=regency_verifier, limit=200)
    assert filed.number not in [item.number for item in queued.items]
    own_verifier = service.officer_for(
        agency_ids=[DUKCAPIL], roles={DUKCAPIL: {"verifier"}}, account_id="v-own", agency=None
    )
    assert filed.number in [
        item.number for item in workflow.queue(session=db, officer=own_verifier, limit=200).items
    ]
    case = workflow.verify(session=db, officer=own_verifier, report_id=filed.id)
    assert case.status == "dispositioned"


def test_a_regency_verifier_signed_in_gets_no_national_view(
    client: TestClient, db: Session, file: Callable[..., FiledReport]
) -> None:
    filed = file()
    db.commit()
    officer_client(client, db, 9201, "verifier", OTHER_REGENCY)
    assert client.get(f"/petugas/pengaduan/{filed.id}").status_code == 404
    assert client.get(f"/api/v1/complaints/cases/{filed.id}").status_code == 404
    assert filed.number not in client.get("/api/v1/complaints/cases?limit=200").text


def _escalate(db: Session, filed: FiledReport, level: int, to: str, agency: str) -> None:
    report = db.get(Report, filed.id)
    assert report is not None
    report.status = "in_process"
    report.agency_id = agency
    report.escalation_level = level
    report.escalated_to = to
    db.flush()


def _queued(db: Session, who: Officer, ours: set[int]) -> set[int]:
    seen: set[int] = set()
    for status in STATUSES:
        offset = 0
        while True:
            page = workflow.queue(session=db, officer=who, status=status, limit=200, offset=offset)
            seen |= {item.id for item in page.items}
            offset += 200
            if offset >= page.total:
                break
    return seen & ours


def test_queue_and_case_view_follow_one_rule(
    db: Session, file: Callable[..., FiledReport], verifier: Officer
) -> None:
    cases = {
        "dukcapil": file(),
        "dinsos": file(service_code="dtsen", title="Nama saya hilang dari DTSEN tahun ini"),
        "dukcapil_escalated": file(title="KTP-el anak saya belum dicetak juga"),
        "dukcapil_ministry": file(title="Akta kelahiran belum terbit tiga bulan"),
        "dukcapil_ombudsman": file(title="Kartu keluarga salah cetak dua kali"),
        "other_regency": file(region_code="11.02.01.2001", title="Blangko habis di Aceh Tenggara"),
        "unrouted": file(region_code=None, title="Layanan kependudukan lambat sekali"),
    }
    _escalate(db, cases["dukcapil_escalated"], 1, REGENCY_GOV, DUKCAPIL)
    _escalate(db, cases["dukcapil_ministry"], 2, "kemendagri.dukcapil", DUKCAPIL)
    _escalate(db, cases["dukcapil_ombudsman"], 3, "ombudsman", DUKCAPIL)
    ids = {name: filed.id for name, filed in cases.items()}
    ours = set(ids.values())
    reports = {i: db.get(Report, i) for i in ours}
    officers = {
        name: officer(agency)
        for name, agency in (
            ("dukcapil", DUKCAPIL),
            ("dinsos", DINSOS),
            ("regency", REGENCY_GOV),
            ("province", PROVINCE),
            ("other_regency", OTHER_REGENCY),
            ("other_unit", f"{OTHER_REGENCY}.disdukcapil"),
            ("ditjen", "kemendagri.dukcapil"),
            ("ministry", "kemendagri"),
            ("ombudsman", "ombudsman"),
        )
    }
    officers["agency_verifier"] = Officer(account_id="v", agency_id=DUKCAPIL, verifier=True)
    officers["national"] = verifier
    visible = {}
    for name, who in officers.items():
        allowed = {
            i
            for i, report in reports.items()
            if workflow.can_see(session=db, officer=who, report=report)
        }
        assert _queued(db, who, ours) == allowed, name
        visible[name] = allowed
    by_id = {v: k for k, v in ids.items()}

    def names(who: str) -> set[str]:
        return {by_id[i] for i in visible[who]}

    own = {"dukcapil", "dukcapil_escalated", "dukcapil_ministry", "dukcapil_ombudsman"}
    assert names("dukcapil") == own == names("agency_verifier")
    assert names("dinsos") == {"dinsos"}
    # The regency government sees its units' cases only once they are escalated.
    assert names("regency") == {"dukcapil_escalated", "dukcapil_ministry", "dukcapil_ombudsman"}
    assert names("province") == names("regency")
    assert names("other_unit") == {"other_regency"}
    assert names("other_regency") == set()  # its unit's case, not escalated
    # The supervising ministry (and the ministry above it) from level 2, also at level 3.
    assert names("ditjen") == {"dukcapil_ministry", "dukcapil_ombudsman"} == names("ministry")
    assert names("ombudsman") == {"dukcapil_ombudsman"}
    assert names("national") == set(cases)
    # The case view agrees: a case outside the rule is "not found".
    with pytest.raises(Problem) as caught:
        workflow.get_case(session=db, officer=officers["dinsos"], report_id=ids["dukcapil"])
    assert caught.value.status == 404
    assert workflow.get_case(
        session=db, officer=officers["province"], report_id=ids["dukcapil_escalated"]
    )


def test_queue_rejects_an_unknown_status(db: Session) -> None:
    with pytest.raises(Problem) as caught:
        workflow.queue(session=db, officer=officer(DUKCAPIL), status="secret")
    assert caught.value.status == 422
