"""The provider's browser-facing pages: authorization (sign-in, step-up, consent), RP-initiated
logout, and the resident's own list of consents (`/akun/persetujuan`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from satu.core.auth import public
from satu.core.csrf import csrf_input, verify_csrf
from satu.core.db import DbSession, utcnow
from satu.core.errors import Problem
from satu.core.web import render
from satu.identity import service as identity
from satu.identity.access import require_account
from satu.identity.audit import client_ip
from satu.identity.oidc import authorize as az
from satu.identity.oidc import consents, keys, revocation, tokens
from satu.identity.oidc.clients import active_client
from satu.identity.oidc.models import Client
from satu.identity.oidc.scopes import SCOPE_DESCRIPTIONS, SENSITIVE_SCOPES, USER_SCOPES
from satu.identity.oidc.util import epoch, settings_of
from satu.identity.schemas import LoginInfo
from satu.satudata import service as satudata

router = APIRouter(tags=["openid-connect pages"])

_FORM_ONLY = ("csrf_token", "decision")


def _audit(
    session: Session,
    request: Request,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    identity.record_audit(
        session=session,
        actor=actor,
        action=action,
        target=target,
        ip=client_ip(request),
        detail=detail,
    )


def _agency_name(session: Session, agency_id: str) -> str:
    agency = satudata.find_agency(session=session, agency_id=agency_id)
    return agency.name if agency is not None else agency_id


def _error_page(request: Request, message: str, status: int = 400) -> Response:
    return render(
        request,
        "identity/oidc/error.html",
        {"message": message},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


def _single_valued(items: list[tuple[str, Any]]) -> dict[str, str] | None:
    values: dict[str, str] = {}
    for key, value in items:
        if not isinstance(value, str) or key in values:
            return None
        values[key] = value
    return values


def _consent_page(
    request: Request,
    session: Session,
    auth: az.AuthRequest,
    login: LoginInfo,
    query: dict[str, str],
) -> Response:
    client = auth.client
    try:
        resident = identity.get_resident(session=session, nik=login.resident_nik)
        resident_name = resident.full_name
    except Problem:
        resident_name = None
    items = [
        {"scope": s, "description": SCOPE_DESCRIPTIONS[s], "sensitive": s in SENSITIVE_SCOPES}
        for s in USER_SCOPES
        if s in auth.scopes
    ]
    return render(
        request,
        "identity/oidc/consent.html",
        {
            "client_name": client.name,
            "agency_name": _agency_name(session, client.agency_id),
            "agency_id": client.agency_id,
            "redirect_host": auth.redirect_uri.split("/")[2],
            "items": items,
            "hidden": sorted(query.items()),
            "csrf_input": csrf_input(request),
            "resident_name": resident_name,
        },
        headers={"Cache-Control": "no-store"},
    )


def _authorize(
    request: Request, session: Session, query: dict[str, str] | None, decision: str | None
) -> Response:
    settings = settings_of(request)
    if query is None:
        return _error_page(request, "Each parameter may be sent only once.")
    try:
        auth = az.parse_request(session=session, params=query)
    except az.FatalAuthError as error:
        return _error_page(request, str(error))
    except az.RedirectError as error:
        az.finish_par(session=session, par_uri=error.par_uri)
        _audit(
            session,
            request,
            "anonymous",
            "oidc.authorize.refused",
            detail={"client": query.get("client_id"), "error": error.error},
        )
        return _redirect(az.error_location(settings, error))

    def fail(error: str, description: str) -> Response:
        az.finish_par(session=session, par_uri=auth.par_uri)
        return _redirect(
            az.error_location(
                settings,
                az.RedirectError(error, description, auth.redirect_uri, auth.state, auth.par_uri),
            )
        )

    login = identity.current_login(session=session, request=request)
    want = az.required_acr(auth)
    marker_time = az.login_after(settings, auth.params.get(az.LOGIN_AFTER))
    fresh = login is not None and marker_time is not None and epoch(login.auth_time) >= marker_time
    reason = None
    if login is None:
        reason = "login"
    elif not fresh and (
        "login" in auth.prompt
        or (
            auth.max_age is not None and (utcnow() - login.auth_time).total_seconds() > auth.max_age
        )
    ):
        reason = "reauthenticate"
    elif not az.acr_satisfied(login.acr, want):
        reason = "step-up"
    if reason is not None:
        if "none" in auth.prompt:
            code = "interaction_required" if reason == "step-up" else "login_required"
            return fail(code, "The resident must sign in (prompt=none was requested).")
        next_url = az.continuation(auth, query, az.login_after_marker(settings))
        location = identity.login_url(
            next_url=next_url,
            acr=want,
            prompt="login" if reason == "reauthenticate" else None,
        )
        return _redirect(location)
    assert login is not None
    client = auth.client
    actor = f"account:{login.account_id}"
    if decision == "deny":
        _audit(
            session,
            request,
            actor,
            "oidc.consent.denied",
            f"client:{client.client_id}",
            {"scopes": auth.scopes},
        )
        return fail("access_denied", "The resident declined to share the requested data.")
    if decision == "allow":
        az.record_consent(
            session=session,
            account_id=login.account_id,
            client_id=client.client_id,
            scopes=auth.scopes,
        )
        _audit(
            session,
            request,
            actor,
            "oidc.consent.granted",
            f"client:{client.client_id}",
            {"scopes": auth.scopes},
        )
    else:
        consent = az.find_consent(
            session=session, account_id=login.account_id, client_id=client.client_id
        )
        if "consent" in auth.prompt or not az.consent_covers(consent, auth.scopes):
            if "none" in auth.prompt:
                return fail("consent_required", "The resident has not consented yet.")
            return _consent_page(request, session, auth, login, query)
    code = tokens.issue_code(
        session=session,
        client_id=client.client_id,
        account_id=login.account_id,
        redirect_uri=auth.redirect_uri,
        scope=auth.scope,
        nonce=auth.nonce,
        code_challenge=auth.code_challenge,
        acr=login.acr,
        amr=list(login.amr),
        auth_time=login.auth_time,
        login_session_id=login.login_session_id,
        dpop_jkt=auth.dpop_jkt,
    )
    az.finish_par(session=session, par_uri=auth.par_uri)
    _audit(
        session,
        request,
        actor,
        "oidc.code.issued",
        f"client:{client.client_id}",
        {"scope": auth.scope, "acr": login.acr},
    )
    return _redirect(
        az.redirect_to(
            auth.redirect_uri,
            {"code": code, "state": auth.state, "iss": settings.public_url.rstrip("/")},
        )
    )


@router.get("/authorize")
def authorize_get(request: Request, session: DbSession, _: None = Depends(public)) -> Response:
    """The authorization endpoint (code flow with PKCE S256; PAR request_uri accepted)."""
    return _authorize(request, session, _single_valued(request.query_params.multi_items()), None)


@router.post("/authorize/consent", dependencies=[Depends(verify_csrf)])
async def authorize_consent(
    request: Request, session: DbSession, _: None = Depends(public)
) -> Response:
    """The consent form's answer: share (and remember) or decline."""
    form = await request.form()
    items = [(k, v) for k, v in form.multi_items() if k not in _FORM_ONLY]
    decision = form.get("decision")
    if decision not in ("allow", "deny"):
        return _error_page(request, "Choose whether to share the data.")
    return _authorize(request, session, _single_valued(items), str(decision))


# --- RP-initiated logout ----------------------------------------------------------------------


def _hint_claims(session: Session, hint: str | None) -> dict[str, Any] | None:
    if not hint or len(hint) > 4096:
        return None
    return keys.verify_own(session=session, token=hint, typ="jwt")


def _logout_target(
    session: Session, params: dict[str, str]
) -> tuple[Client | None, dict[str, Any] | None, str | None]:
    claims = _hint_claims(session, params.get("id_token_hint"))
    client_id = params.get("client_id")
    if claims is not None:
        aud = claims.get("aud")
        hinted = (
            aud if isinstance(aud, str) else (aud[0] if isinstance(aud, list) and aud else None)
        )
        if client_id and client_id != hinted:
            return None, None, None
        client_id = hinted
    client = active_client(session=session, client_id=client_id)
    uri = params.get("post_logout_redirect_uri")
    if uri and (client is None or uri not in client.post_logout_redirect_uris):
        uri = None
    return client, claims, uri


def _do_logout(
    request: Request, session: Session, client: Client | None, uri: str | None, state: str | None
) -> Response:
    login = identity.current_login(session=session, request=request)
    if uri:
        response: Response = _redirect(az.redirect_to(uri, {"state": state}))
    else:
        response = render(
            request,
            "identity/oidc/logged_out.html",
            {"client_name": client.name if client else None},
            headers={"Cache-Control": "no-store"},
        )
    if login is not None:
        revocation.revoke_session_grants(session=session, login_session_id=login.login_session_id)
        identity.logout(session=session, request=request, response=response)
        _audit(
            session,
            request,
            f"account:{login.account_id}",
            "oidc.logout",
            f"client:{client.client_id}" if client else None,
        )
    return response


@router.get("/oidc/logout")
def logout_get(request: Request, session: DbSession, _: None = Depends(public)) -> Response:
    """RP-initiated logout: sign out at once when the RP proves the session, else ask."""
    params = _single_valued(request.query_params.multi_items())
    if params is None:
        return _error_page(request, "Each parameter may be sent only once.")
    if params.get("post_logout_redirect_uri") and not (
        params.get("id_token_hint") or params.get("client_id")
    ):
        return _error_page(request, "post_logout_redirect_uri needs id_token_hint or client_id.")
    client, claims, uri = _logout_target(session, params)
    if params.get("post_logout_redirect_uri") and uri is None:
        return _error_page(request, "post_logout_redirect_uri is not registered for this client.")
    login = identity.current_login(session=session, request=request)
    settings = settings_of(request)
    if login is None:
        return _do_logout(request, session, client, uri, params.get("state"))
    if claims is not None and claims.get("sid") == tokens.session_sid(
        settings=settings, login_session_id=login.login_session_id
    ):
        return _do_logout(request, session, client, uri, params.get("state"))
    hidden = {
        k: v
        for k, v in params.items()
        if k in ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")
    }
    return render(
        request,
        "identity/oidc/logout_confirm.html",
        {
            "client_name": client.name if client else None,
            "hidden": sorted(hidden.items()),
            "csrf_input": csrf_input(request),
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/oidc/logout", dependencies=[Depends(verify_csrf)])
async def logout_post(request: Request, session: DbSession, _: None = Depends(public)) -> Response:
    """The logout confirmation's answer."""
    form = await request.form()
    params = _single_valued([(k, v) for k, v in form.multi_items() if k != "csrf_token"])
    if params is None:
        return _error_page(request, "Each parameter may be sent only once.")
    client, _claims, uri = _logout_target(session, params)
    if params.get("post_logout_redirect_uri") and uri is None:
        return _error_page(request, "post_logout_redirect_uri is not registered for this client.")
    return _do_logout(request, session, client, uri, params.get("state"))


# --- the resident's consents ------------------------------------------------------------------


@router.get("/akun/persetujuan")
def consents_page(
    request: Request, session: DbSession, login: LoginInfo = Depends(require_account)
) -> Response:
    """The services the resident shares data with, each with a way to withdraw."""
    standing = consents.list_consents(session=session, account_id=login.account_id)
    return render(
        request,
        "identity/oidc/consents.html",
        {
            "consents": [
                {
                    **c.model_dump(),
                    "data_items": [SCOPE_DESCRIPTIONS[s] for s in USER_SCOPES if s in c.scopes],
                }
                for c in standing
            ],
            "withdrawn": request.query_params.get("dicabut") == "1",
            "csrf_input": csrf_input(request),
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/akun/persetujuan/cabut", dependencies=[Depends(verify_csrf)])
async def withdraw_consent(
    request: Request, session: DbSession, login: LoginInfo = Depends(require_account)
) -> Response:
    """Withdraw consent for one service; its refresh and access tokens stop working."""
    form = await request.form()
    client_id = form.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        return _error_page(request, "Choose a service.")
    withdrawn = consents.withdraw(session=session, account_id=login.account_id, client_id=client_id)
    if not withdrawn:
        return _error_page(request, "There is no consent for that service.", status=404)
    _audit(
        session,
        request,
        f"account:{login.account_id}",
        "oidc.consent.withdrawn",
        f"client:{client_id}",
    )
    return _redirect("/akun/persetujuan?dicabut=1")
