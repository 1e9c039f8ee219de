"""Who sees which case: ONE rule, turned into SQL for queues and into a check for one case.

An officer acting for agency A sees a case when

1. the case is with A (routed, dispositioned or forwarded to it), or
2. the case is escalated to A right now, or
3. the case is escalated (level 1 or more) and is with an agency *below* A (one of A's
   units or, for a province, one of its regencies or their units): a parent agency keeps
   watching an overdue case of its units, also after it moved further up; cases of units
   below A that are *not* escalated stay the unit's own business, or
4. the case reached the ministry level (2 or more) and its category is supervised by A or an
   agency below A (the ministry keeps its view when the case goes on to the Ombudsman).

A national verifier (a verifier at the platform agency, `SATU_COMPLAINTS_PLATFORM_AGENCY_ID`)
or an admin sees every case. Everyone else, including a verifier of a regency, sees only the
cases the rule above gives their agency.

The rule is data (`Scope.terms`: OR of ANDs of simple column tests); `condition` renders it as
SQL and `allows` evaluates the very same terms on a loaded report, so a queue and a case view
can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from satu.complaints.models import Category, Report
from satu.complaints.schemas import Officer
from satu.satudata import service as satudata

MAX_DESCENDANTS = 5000  # far more than any real agency has below it; guards runaway data

# (column name, operator, value): "in" takes a frozenset, ">=" an int.
Term = tuple[str, str, Any]


@dataclass(frozen=True)
class Scope:
    """What an officer sees: everything, or the OR of AND-ed terms."""

    everything: bool
    terms: tuple[tuple[Term, ...], ...] = ()


def descendants(*, session: Session, agency_id: str) -> frozenset[str]:
    """Every agency below `agency_id` in the registry (empty for an unknown agency)."""
    return frozenset(
        satudata.agency_descendant_ids(session=session, agency_id=agency_id, limit=MAX_DESCENDANTS)
    )


def _build(session: Session, officer: Officer) -> Scope:
    if officer.national:
        return Scope(everything=True)
    if officer.agency_id is None:
        return Scope(everything=False)
    own = officer.agency_id
    below = descendants(session=session, agency_id=own)
    supervised = frozenset(
        session.scalars(select(Category.code).where(Category.ministry_id.in_({own} | below))).all()
    )
    terms: list[tuple[Term, ...]] = [
        (("agency_id", "in", frozenset({own})),),
        (("escalated_to", "in", frozenset({own})),),
    ]
    if below:
        terms.append((("escalation_level", ">=", 1), ("agency_id", "in", below)))
    if supervised:
        terms.append((("escalation_level", ">=", 2), ("category_code", "in", supervised)))
    return Scope(everything=False, terms=tuple(terms))


def scope_of(*, session: Session, officer: Officer) -> Scope:
    """The officer's scope (computed once per session: the registry does not change mid-request)."""
    cache = session.info.setdefault("complaints_scopes", {})
    key = (officer.national, officer.agency_id)
    if key not in cache:
        cache[key] = _build(session, officer)
    return cache[key]


def _sql(term: Term) -> ColumnElement[bool]:
    name, op, value = term
    column = getattr(Report, name)
    if op == "in":
        return column.in_(sorted(value))
    return column >= value


def _check(report: Report, term: Term) -> bool:
    name, op, value = term
    actual = getattr(report, name)
    if op == "in":
        return actual in value
    return actual is not None and actual >= value


def condition(scope: Scope) -> ColumnElement[bool]:
    """The scope as a SQL condition on `Report`."""
    if scope.everything:
        return true()
    if not scope.terms:
        return false()
    return or_(*(and_(*(_sql(t) for t in conjunction)) for conjunction in scope.terms))


def allows(scope: Scope, report: Report) -> bool:
    """The scope evaluated on one report (the same terms as `condition`)."""
    if scope.everything:
        return True
    return any(all(_check(report, t) for t in conjunction) for conjunction in scope.terms)
