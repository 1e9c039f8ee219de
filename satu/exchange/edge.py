"""Who manages the exchange registry over HTTP, as the registry sees them (an `Actor`).

Built on identity's published service (`current_login`, `officer_context`): an exchange
administrator is a signed-in holder of identity's global `admin` role; an agency's officer
(`agency_admin` or `officer` role) manages only that agency's registrations. Machines have no
management scope on Satu's provider yet, so the admin API takes a signed-in browser session
(or the `satu exchange` command on the server); its unsafe calls need `X-CSRF-Token`, which
`identity.current_login` checks (`satu.core.csrf.require_csrf`).
"""

from __future__ import annotations

from fastapi import Request

from satu.core.auth import access_rule
from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.exchange.schemas import Actor
from satu.identity import service as identity

MANAGING_ROLES = frozenset({"agency_admin", "officer"})


def _context(request: Request, session: DbSession):  # type: ignore[no-untyped-def]
    login = identity.current_login(session=session, request=request)
    if login is None:
        raise Problem(
            "unauthorized",
            "Sign in as an administrator or an agency officer.",
            headers={"WWW-Authenticate": 'Cookie realm="satu"'},
        )
    return identity.officer_context(session=session, account_id=login.account_id)


@access_rule("staff")
def exchange_manager(request: Request, session: DbSession) -> Actor:
    """An administrator, or an officer managing their agencies' exchange registrations."""
    context = _context(request, session)
    agencies = tuple(
        agency
        for agency in (context.agency_ids if context else [])
        if context is not None and context.roles_at(agency) & MANAGING_ROLES
    )
    if context is None or (not context.is_admin and not agencies):
        raise Problem("forbidden", "This needs an administrator or an agency officer.")
    return Actor(
        name=f"account:{context.account_id}",
        is_admin=context.is_admin,
        agency_ids=agencies,
        ip=identity.client_ip(request),
    )


@access_rule("admin")
def exchange_admin(request: Request, session: DbSession) -> Actor:
    """An exchange administrator (identity's global `admin` role)."""
    context = _context(request, session)
    if context is None or not context.is_admin:
        raise Problem("forbidden", "This needs the administrator role.")
    return Actor(
        name=f"account:{context.account_id}",
        is_admin=True,
        agency_ids=tuple(context.agency_ids),
        ip=identity.client_ip(request),
    )
