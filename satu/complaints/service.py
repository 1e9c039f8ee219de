"""The complaints domain's public functions, for the edge and for other domains.

Other domains (the portal's service and case pages) call only what is here: e.g.
`report_link(service_code=..., case_ref=...)` for a "report a problem with this service" link.
"""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.complaints.config import get_complaint_settings
from satu.complaints.demo import demo_notes as demo_notes
from satu.complaints.demo import seed_demo as seed_demo
from satu.complaints.intake import check_service as check_service
from satu.complaints.intake import file_report as file_report
from satu.complaints.intake import preview as preview
from satu.complaints.intake import public_report as public_report
from satu.complaints.intake import report_by_token as report_by_token
from satu.complaints.intake import reports_of_account as reports_of_account
from satu.complaints.intake import support as support
from satu.complaints.intake import supporter_key as supporter_key
from satu.complaints.intake import track as track
from satu.complaints.models import Category, Service
from satu.complaints.routing import add_rule as add_rule
from satu.complaints.routing import route as route
from satu.complaints.schemas import CategoryOut, Officer, ServiceOut
from satu.complaints.statistics import statistics as statistics
from satu.complaints.workflow import get_case as get_case
from satu.complaints.workflow import queue as queue
from satu.complaints.workflow import run_clock as run_clock


def report_link(*, service_code: str, case_ref: str | None = None) -> str:
    """The portal URL of the report form, prefilled with a service and optional case reference."""
    params = {"service": service_code}
    if case_ref:
        params["case"] = case_ref
    return f"/pengaduan/baru?{urlencode(params)}"


def list_categories(*, session: Session) -> list[CategoryOut]:
    """Every complaint category, in display order."""
    rows = session.scalars(select(Category).order_by(Category.sort, Category.code)).all()
    return [
        CategoryOut(code=r.code, name=r.name, name_en=r.name_en, ministry_id=r.ministry_id)
        for r in rows
    ]


def list_services(*, session: Session, category_code: str | None = None) -> list[ServiceOut]:
    """Active services people can report a problem with."""
    query = select(Service).where(Service.active.is_(True))
    if category_code:
        query = query.where(Service.category_code == category_code)
    rows = session.scalars(query.order_by(Service.category_code, Service.name)).all()
    return [_service_out(r) for r in rows]


def get_service(*, session: Session, code: str) -> ServiceOut:
    """One active service; a validation problem for an unknown code."""
    return _service_out(check_service(session=session, code=code))


def _service_out(row: Service) -> ServiceOut:
    return ServiceOut(
        code=row.code,
        name=row.name,
        name_en=row.name_en,
        description=row.description,
        category_code=row.category_code,
        level=row.level,
        agency_ref=row.agency_ref,
        keywords=row.keywords,
    )


def officer_for(
    *,
    agency_ids: list[str],
    roles: dict[str, set[str]],
    account_id: str,
    agency: str | None,
    is_admin: bool = False,
) -> Officer:
    """The acting officer: one of their agencies (chosen or the only one) and their rights.

    Only a verifier grant at the platform agency, or an admin, gives the national view; a
    verifier of any other agency verifies that agency's reports only, and only while acting
    for it.
    """
    chosen = agency if agency in agency_ids else (agency_ids[0] if agency_ids else None)
    platform = get_complaint_settings().platform_agency_id
    national = is_admin or "verifier" in roles.get(platform, set())
    verifier = national or (chosen is not None and "verifier" in roles.get(chosen, set()))
    return Officer(account_id=account_id, agency_id=chosen, verifier=verifier, national=national)
