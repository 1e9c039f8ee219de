"""What the HTTP edge (api, views, open311) shares: who is calling, as the domain sees them.

The officer access rule is built on identity's published service (`current_login`,
`officer_context`, `login_url`), so this domain needs nothing else from identity.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from satu.complaints.schemas import Officer
from satu.complaints.service import officer_for
from satu.core.auth import access_rule
from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.identity import service as identity


def account_of(request: Request, session: Session) -> str | None:
    """The signed-in account, if any (reporting needs no account)."""
    login = identity.current_login(session=session, request=request)
    return login.account_id if login else None


@access_rule("officer")
def complaints_officer(request: Request, session: DbSession) -> Officer:
    """A signed-in officer of an agency, or a verifier; `?agency=` picks among their agencies."""
    login = identity.current_login(session=session, request=request)
    if login is None:
        raise identity.sign_in_required(request)
    context = identity.officer_context(session=session, account_id=login.account_id)
    if context is None or not (context.agency_ids or context.is_admin):
        raise Problem("forbidden", "This is for officers of an agency.")
    roles = {agency_id: context.roles_at(agency_id) for agency_id in context.agency_ids}
    return officer_for(
        agency_ids=list(context.agency_ids),
        roles=roles,
        account_id=context.account_id,
        agency=request.query_params.get("agency"),
        is_admin=context.is_admin,
    )


@access_rule("account")
def complaints_reporter(request: Request, session: DbSession) -> str:
    """A signed-in resident (their account id); pages redirect to sign-in."""
    login = identity.current_login(session=session, request=request)
    if login is None:
        raise identity.sign_in_required(request)
    return login.account_id
