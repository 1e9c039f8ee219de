"""Routing: which agency answers a report, from rules, the service's level and the place.

Order: an explicit rule (most specific region prefix first, a service rule before a category
rule) -> the service's level (national agency, or the local government of the report's place,
or its unit) -> nobody, and a verifier decides. A report about a regency service placed at a
village, district or regency goes to that regency, even when it reached the province first.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from satu.complaints.models import Category, Report, RoutingRule, Service
from satu.complaints.text import fingerprint, similarity
from satu.core.errors import Problem
from satu.satudata import service as satudata


@dataclass(frozen=True)
class Route:
    """Where a report goes, and why."""

    agency_id: str | None
    note: str
    certain: bool


def agency_name(*, session: Session, agency_id: str | None) -> str | None:
    """The agency's name, or None for an unknown id."""
    if not agency_id:
        return None
    agency = satudata.find_agency(session=session, agency_id=agency_id)
    return agency.name if agency else None


def agency_exists(*, session: Session, agency_id: str) -> bool:
    """Whether the registry knows the agency."""
    return satudata.find_agency(session=session, agency_id=agency_id) is not None


def _rule_for(
    session: Session, service_code: str, category_code: str, region_code: str | None
) -> RoutingRule | None:
    prefixes = _prefixes(region_code)
    rows = session.scalars(
        select(RoutingRule).where(
            or_(RoutingRule.service_code == service_code, RoutingRule.service_code.is_(None)),
            or_(RoutingRule.category_code == category_code, RoutingRule.category_code.is_(None)),
            or_(RoutingRule.region_prefix.in_(prefixes), RoutingRule.region_prefix.is_(None))
            if prefixes
            else RoutingRule.region_prefix.is_(None),
            or_(RoutingRule.service_code.is_not(None), RoutingRule.category_code.is_not(None)),
        )
    ).all()
    if not rows:
        return None
    return max(
        rows,
        key=lambda r: (len(r.region_prefix or ""), r.service_code is not None, r.id),
    )


def _prefixes(region_code: str | None) -> list[str]:
    if not region_code:
        return []
    parts = region_code.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _local(session: Session, code: str, unit: str) -> str:
    government = satudata.agency_for_region(session=session, region_code=code)
    if unit:
        unit_id = f"{government.id}.{unit}"
        if agency_exists(session=session, agency_id=unit_id):
            return unit_id
    return government.id


def route(
    *, session: Session, service_code: str, category_code: str, region_code: str | None
) -> Route:
    """The agency responsible for a service, category and place."""
    rule = _rule_for(session, service_code, category_code, region_code)
    if rule is not None:
        return Route(rule.agency_id, f"rule {rule.id}", True)
    service = session.get(Service, service_code)
    if service is None:
        raise Problem("validation-error", f"Unknown service code {service_code!r}.")
    if service.level == "national":
        return Route(service.agency_ref, "national service", True)
    if not region_code:
        return Route(None, "a local service needs a place: a verifier decides", False)
    if service.level == "province":
        return Route(_local(session, region_code[:2], ""), "province service", True)
    if len(region_code) >= 5:
        return Route(
            _local(session, region_code[:5], service.agency_ref), "regency/city service", True
        )
    # Only the province is known: the province government receives it and a verifier (or the
    # province) names the regency.
    return Route(
        _local(session, region_code, ""),
        "regency service placed only at province level: a verifier names the regency",
        False,
    )


def add_rule(
    *,
    session: Session,
    agency_id: str,
    service_code: str | None = None,
    category_code: str | None = None,
    region_prefix: str | None = None,
    note: str = "",
) -> int:
    """Add a routing rule; it must name a service or a category and a known agency."""
    if not service_code and not category_code:
        raise Problem("validation-error", "A rule needs a service or a category.")
    if service_code and session.get(Service, service_code) is None:
        raise Problem("validation-error", f"Unknown service code {service_code!r}.")
    if category_code and session.get(Category, category_code) is None:
        raise Problem("validation-error", f"Unknown category {category_code!r}.")
    if region_prefix and not satudata.is_region(session=session, code=region_prefix):
        raise Problem("validation-error", f"Unknown region {region_prefix!r}.")
    if not agency_exists(session=session, agency_id=agency_id):
        raise Problem("validation-error", f"Unknown agency {agency_id!r}.")
    rule = RoutingRule(
        agency_id=agency_id,
        service_code=service_code,
        category_code=category_code,
        region_prefix=region_prefix,
        note=note[:300],
    )
    session.add(rule)
    session.flush()
    return rule.id


DUPLICATE_SIMILARITY = 0.8
DUPLICATE_CANDIDATES = 50


def find_duplicate(
    *, session: Session, service_code: str, region_code: str | None, text: str
) -> Report | None:
    """An open, public earlier report about the same service and place with near-identical text.

    Confidential and whistle-blowing reports are never offered: linking to one (and counting
    a "me too" on it) would tell the new reporter that it exists.
    """
    same_place = Report.region_code == region_code if region_code else Report.region_code.is_(None)
    base = select(Report).where(
        Report.service_code == service_code,
        same_place,
        Report.status != "archived",
        Report.duplicate_of_id.is_(None),
        Report.confidential.is_(False),
        Report.kind != "whistleblowing",
    )
    exact = session.scalars(
        base.where(Report.fingerprint == fingerprint(text)).order_by(Report.id).limit(1)
    ).first()
    if exact is not None:
        return exact
    candidates = session.scalars(base.order_by(Report.id.desc()).limit(DUPLICATE_CANDIDATES)).all()
    best, best_score = None, DUPLICATE_SIMILARITY
    for candidate in candidates:
        score = similarity(text, f"{candidate.title}\n{candidate.body}")
        if score >= best_score:
            best, best_score = candidate, score
    return best


def count_rules(*, session: Session) -> int:
    """How many routing rules exist."""
    return session.scalar(select(func.count()).select_from(RoutingRule)) or 0
