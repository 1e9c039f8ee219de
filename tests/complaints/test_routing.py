"""Routing: rules, service levels and places, the province-to-regency rule."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from satu.complaints import service
from satu.complaints.routing import route
from satu.core.errors import Problem


def where(db: Session, service_code: str, region: str | None, category: str = "") -> tuple:
    result = route(
        session=db,
        service_code=service_code,
        category_code=category or service.get_service(session=db, code=service_code).category_code,
        region_code=region,
    )
    return result.agency_id, result.certain


def test_national_services_go_to_their_agency(db: Session) -> None:
    assert where(db, "pkh", "11.01.01.2001") == ("kemensos", True)
    assert where(db, "paspor", None) == ("kemenimipas.imigrasi", True)
    assert where(db, "jkn", "31.71") == ("bpjs-kesehatan", True)
    assert where(db, "sim", "11") == ("polri.korlantas", True)


def test_regency_services_go_to_the_regency_unit_or_government(db: Session) -> None:
    assert where(db, "ktp-el", "11.01.01.2001") == ("kab-11.01.disdukcapil", True)
    assert where(db, "dtsen", "11.01.01") == ("kab-11.01.dinsos", True)
    assert where(db, "jalan-kabupaten", "11.01") == ("kab-11.01", True)
    assert where(db, "akta-kelahiran", "11.71.01") == ("kota-11.71.disdukcapil", True)


def test_province_services_go_to_the_province(db: Session) -> None:
    assert where(db, "spmb-sma-smk", "11.01.01.2001") == ("prov-11", True)


def test_a_regency_service_reported_at_province_level_waits_for_a_verifier(db: Session) -> None:
    assert where(db, "ktp-el", "11") == ("prov-11", False)
    assert where(db, "ktp-el", None) == (None, False)


def test_rules_override_by_the_most_specific_region(db: Session) -> None:
    service.add_rule(session=db, agency_id="kemendagri.dukcapil", category_code="kependudukan")
    assert where(db, "ktp-el", "11.01.01.2001")[0] == "kemendagri.dukcapil"
    service.add_rule(
        session=db, agency_id="kab-11.01", service_code="ktp-el", region_prefix="11.01"
    )
    assert where(db, "ktp-el", "11.01.01.2001")[0] == "kab-11.01"
    assert where(db, "ktp-el", "11.71.01")[0] == "kemendagri.dukcapil"
    assert where(db, "paspor", "11.01")[0] == "kemenimipas.imigrasi"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"agency_id": "kemensos"},
        {"agency_id": "no-such-agency", "service_code": "pkh"},
        {"agency_id": "kemensos", "service_code": "no-such"},
        {"agency_id": "kemensos", "category_code": "no-such"},
        {"agency_id": "kemensos", "service_code": "pkh", "region_prefix": "99"},
    ],
)
def test_bad_rules_are_refused(db: Session, kwargs: dict) -> None:
    with pytest.raises(Problem):
        service.add_rule(session=db, **kwargs)


def test_the_report_link_prefills_service_and_case() -> None:
    link = service.report_link(service_code="ktp-el", case_ref="PMH-2026/0001")
    assert link == "/pengaduan/baru?service=ktp-el&case=PMH-2026%2F0001"
