"""Access rules of the identity domain: signed-in account, officer, admin.

Each is a FastAPI dependency marked with `access_rule`, so a route can declare it as its one
access rule and also receive its value. Pages get a redirect to the sign-in page (303 with
`Location`), APIs a 401 problem; a signed-in person without the role gets 403. On POST, PUT,
PATCH and DELETE the session counts only with CSRF proof (`current_login`: the form's token
accepted by `verify_csrf`, or the `X-CSRF-Token` header); else 403.
"""

from __future__ import annotations

from fastapi import Request

from satu.core.auth import access_rule
from satu.core.csrf import csrf_input as csrf_input
from satu.core.csrf import csrf_token as csrf_token
from satu.core.csrf import verify_csrf as verify_csrf
from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.identity import service
from satu.identity.schemas import LoginInfo, OfficerContext


@access_rule("account")
def require_account(request: Request, session: DbSession) -> LoginInfo:
    """A signed-in resident (any level of assurance)."""
    login = service.current_login(session=session, request=request)
    if login is None:
        raise service.sign_in_required(request)
    return login


@access_rule("officer")
def require_officer(request: Request, session: DbSession) -> OfficerContext:
    """A signed-in officer holding an agency-scoped role (officer, verifier, agency_admin)."""
    login = require_account(request, session)
    context = service.officer_context(session=session, account_id=login.account_id)
    if context is None or not context.agency_ids:
        raise Problem("forbidden", "This page is for officers of an agency.")
    return context


@access_rule("staff")
def require_staff(request: Request, session: DbSession) -> OfficerContext:
    """A signed-in holder of any role: officer, verifier, agency_admin, admin, observer."""
    login = require_account(request, session)
    context = service.officer_context(session=session, account_id=login.account_id)
    if context is None:
        raise Problem("forbidden", "This page is for officers and administrators.")
    return context


@access_rule("admin")
def require_admin(request: Request, session: DbSession) -> OfficerContext:
    """A signed-in holder of the global `admin` role."""
    login = require_account(request, session)
    context = service.officer_context(session=session, account_id=login.account_id)
    if context is None or not context.is_admin:
        raise Problem("forbidden", "This needs the administrator role.")
    return context


REGISTRAR_AGENCY = "kemendagri.dukcapil"


@access_rule("registrar")
def require_registrar(request: Request, session: DbSession) -> OfficerContext:
    """A civil registry (Ditjen Dukcapil) officer or an admin: reads and writes the register."""
    context = require_staff(request, session)
    if not context.is_admin and not context.roles_at(REGISTRAR_AGENCY):
        raise Problem("forbidden", "Only civil registry officers may use the population register.")
    return context
