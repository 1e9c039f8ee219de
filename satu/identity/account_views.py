"""Account pages: overview, TOTP setup, sessions, password, activity; officer management."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from satu.core.csrf import app_secret, csrf_token, verify_csrf
from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.core.i18n import gettext_
from satu.core.web import render
from satu.identity import accounts, officers, sessions, totp
from satu.identity.access import require_account, require_staff
from satu.identity.audit import client_ip, list_audit, record_audit
from satu.identity.residents import find_resident
from satu.identity.schemas import (
    ACR_PWD_TOTP,
    GLOBAL_ROLES,
    SCOPED_ROLES,
    LoginInfo,
    OfficerContext,
)
from satu.identity.service import safe_next

router = APIRouter(tags=["identity pages"], include_in_schema=False)
CSRF = Depends(verify_csrf)
ACCOUNT = Depends(require_account)
STAFF = Depends(require_staff)


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("csrf_token", csrf_token(request))
    return render(
        request,
        f"identity/{template}",
        context,
        status_code=status_code,
        headers={"cache-control": "no-store"},
    )


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})


@router.get("/akun", response_class=HTMLResponse)
def account_page(
    request: Request, session: DbSession, login: LoginInfo = ACCOUNT, done: str | None = None
) -> Response:
    """The signed-in resident's own data and security settings."""
    account = accounts.find_account(session=session, account_id=login.account_id)
    resident = find_resident(session=session, nik=login.resident_nik)
    return _page(
        request, "account.html", account=account, resident=resident, login=login, done=done
    )


# --- TOTP -------------------------------------------------------------------------------------


def _secret_signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app_secret(request.app.state.settings), salt="satu.totp-setup")


def _totp_setup(request: Request, login: LoginInfo, next_url: str, **extra: Any) -> HTMLResponse:
    secret = extra.pop("secret", None) or totp.new_secret()
    label = f"{login.resident_nik[:6]}**********"
    needs_password = extra.pop("needs_password", None)
    if needs_password is None:
        needs_password = not totp.recently_authenticated(login.auth_time)
    return _page(
        request,
        "totp_setup.html",
        status_code=extra.pop("status_code", 200),
        secret=secret,
        secret_spaced=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        uri=totp.provisioning_uri(secret=secret, label=label),
        sealed=_secret_signer(request).dumps([login.account_id, secret]),
        next=next_url,
        needs_password=needs_password,
        **extra,
    )


def _already_on(request: Request) -> HTMLResponse:
    return _page(
        request,
        "totp_enabled.html",
        status_code=409,
        error=gettext_("Your authenticator app is already on. Turn it off first to replace it."),
    )


@router.get("/akun/totp", response_class=HTMLResponse)
def totp_setup_page(
    request: Request, session: DbSession, login: LoginInfo = ACCOUNT, next: str | None = None
) -> Response:
    """Set up an authenticator app (or see that it is on, and turn it off)."""
    account = accounts.find_account(session=session, account_id=login.account_id)
    if account is not None and account.totp_enabled:
        return _page(request, "totp_enabled.html")
    return _totp_setup(request, login, safe_next(next))


@router.post("/akun/totp", response_class=HTMLResponse, dependencies=[CSRF])
def totp_setup_submit(
    request: Request,
    session: DbSession,
    login: LoginInfo = ACCOUNT,
    sealed: str = Form("", max_length=500),
    code: str = Form("", max_length=16),
    password: str = Form("", max_length=1024),
    next: str = Form("/akun", max_length=4000),
) -> Response:
    """Confirm the first code; TOTP is on and this session counts as password + TOTP.

    Needs a fresh authentication: a sign-in within the last few minutes, else the password.
    """
    try:
        account_id, secret = _secret_signer(request).loads(sealed, max_age=1800)
    except (BadSignature, ValueError, TypeError) as exc:
        raise Problem("forbidden", "The set-up form is not valid; start again.") from exc
    if account_id != login.account_id:
        raise Problem("forbidden", "The set-up form belongs to another account.")
    account = accounts.find_account(session=session, account_id=account_id)
    if account is not None and account.totp_enabled:
        return _already_on(request)
    ip = client_ip(request)
    if not totp.recently_authenticated(login.auth_time):
        error = None
        retry_after = None
        if not password:
            error = gettext_("For your security, enter your password again.")
        else:
            try:
                totp.reauthenticate(
                    session=session, account_id=account_id, password=password, ip=ip
                )
            except accounts.AccountError as exc:
                error, retry_after = gettext_(exc.message), exc.retry_after
        if error is not None:
            return _totp_setup(
                request,
                login,
                safe_next(next),
                secret=secret,
                status_code=429 if retry_after else 401,
                needs_password=True,
                error=error,
            )
    try:
        enabled = totp.enable_totp(
            session=session, account_id=account_id, secret=secret, code=code, ip=ip
        )
    except accounts.AccountError:
        return _already_on(request)
    if not enabled:
        return _totp_setup(
            request,
            login,
            safe_next(next),
            secret=secret,
            status_code=422,
            error=gettext_("The code is wrong. Check the time on your phone and try again."),
        )
    response = _redirect(safe_next(next, "/akun?done=totp"))
    row = sessions.session_row(session=session, request=request)
    sessions.start_session(
        session=session,
        request=request,
        response=response,
        account_id=account_id,
        acr=ACR_PWD_TOTP,
        amr=["pwd", "otp"],
        replace=row,
    )
    return response


@router.post("/akun/totp/nonaktif", response_class=HTMLResponse, dependencies=[CSRF])
def totp_disable(
    request: Request,
    session: DbSession,
    login: LoginInfo = ACCOUNT,
    password: str = Form("", max_length=1024),
    code: str = Form("", max_length=16),
) -> Response:
    """Turn TOTP off (to remove or replace it) with the password and a current code."""
    ip = client_ip(request)
    try:
        totp.reauthenticate(session=session, account_id=login.account_id, password=password, ip=ip)
        if not totp.verify_totp(session=session, account_id=login.account_id, code=code, ip=ip):
            return _page(
                request,
                "totp_enabled.html",
                status_code=401,
                error=gettext_("The code is wrong or was already used. Wait for a new code."),
            )
    except accounts.AccountError as exc:
        return _page(
            request,
            "totp_enabled.html",
            status_code=429 if exc.retry_after else 401,
            error=gettext_(exc.message),
        )
    totp.disable_totp(session=session, account_id=login.account_id, ip=ip)
    return _redirect("/akun?done=totp-off")


# --- sessions and password --------------------------------------------------------------------


@router.get("/akun/sesi", response_class=HTMLResponse)
def sessions_page(request: Request, session: DbSession, login: LoginInfo = ACCOUNT) -> Response:
    """Where this account is signed in, with a way to sign each out."""
    rows = sessions.list_sessions(
        session=session, account_id=login.account_id, current_id=login.login_session_id
    )
    return _page(request, "sessions.html", sessions=rows)


@router.post("/akun/sesi/{session_id}/cabut", dependencies=[CSRF])
def session_revoke(
    request: Request, session_id: str, session: DbSession, login: LoginInfo = ACCOUNT
) -> Response:
    """Sign out one session of this account."""
    if not sessions.revoke_session(
        session=session, account_id=login.account_id, session_id=session_id[:36]
    ):
        raise Problem("not-found", "No such session.")
    record_audit(
        session=session,
        actor=f"account:{login.account_id}",
        action="session.revoked",
        target=f"session:{session_id[:36]}",
        ip=client_ip(request),
    )
    if session_id == login.login_session_id:
        return _redirect("/masuk")
    return _redirect("/akun/sesi")


@router.post("/akun/sesi/cabut-lainnya", dependencies=[CSRF])
def sessions_revoke_others(
    request: Request, session: DbSession, login: LoginInfo = ACCOUNT
) -> Response:
    """Sign out everywhere else."""
    count = sessions.revoke_all_sessions(
        session=session, account_id=login.account_id, except_id=login.login_session_id
    )
    record_audit(
        session=session,
        actor=f"account:{login.account_id}",
        action="session.revoked_others",
        target=f"account:{login.account_id}",
        ip=client_ip(request),
        detail={"count": count},
    )
    return _redirect("/akun/sesi")


@router.get("/akun/sandi", response_class=HTMLResponse, dependencies=[ACCOUNT])
def password_page(request: Request) -> Response:
    """Change the password."""
    return _page(request, "password.html")


@router.post("/akun/sandi", response_class=HTMLResponse, dependencies=[CSRF])
def password_submit(
    request: Request,
    session: DbSession,
    login: LoginInfo = ACCOUNT,
    current_password: str = Form("", max_length=1024),
    password: str = Form("", max_length=1024),
    password_again: str = Form("", max_length=1024),
) -> Response:
    """Change the password; every other session is signed out."""
    if password != password_again:
        return _page(
            request,
            "password.html",
            status_code=422,
            error=gettext_("The two passwords are not the same."),
        )
    try:
        accounts.change_password(
            session=session,
            account_id=login.account_id,
            current_password=current_password,
            new_password=password,
            keep_session_id=login.login_session_id,
            ip=client_ip(request),
        )
    except accounts.AccountError as exc:
        return _page(request, "password.html", status_code=422, error=gettext_(exc.message))
    return _redirect("/akun?done=password")


@router.get("/akun/aktivitas", response_class=HTMLResponse)
def activity_page(request: Request, session: DbSession, login: LoginInfo = ACCOUNT) -> Response:
    """The account's recent security events."""
    events = list_audit(session=session, target=f"account:{login.account_id}", limit=50)
    return _page(request, "activity.html", events=events)


# --- officers (admin and agency admins) -------------------------------------------------------


def _manageable(context: OfficerContext) -> list[str] | None:
    """Agencies whose officers `context` manages (None: all of them, for an admin)."""
    if context.is_admin:
        return None
    return [a for a in context.agency_ids if "agency_admin" in context.roles_at(a)]


@router.get("/petugas", response_class=HTMLResponse)
def officers_page(request: Request, session: DbSession, staff: OfficerContext = STAFF) -> Response:
    """Officer roles the signed-in admin or agency admin manages."""
    scope = _manageable(staff)
    if scope is not None and not scope:
        raise Problem("forbidden", "Only administrators and agency administrators manage officers.")
    grants = (
        officers.list_grants(session=session)
        if scope is None
        else [g for a in scope for g in officers.list_grants(session=session, agency_id=a)]
    )
    roles = list(SCOPED_ROLES + GLOBAL_ROLES) if scope is None else ["officer", "verifier"]
    return _page(request, "officers.html", grants=grants, roles=roles, agencies=scope)


@router.post("/petugas", response_class=HTMLResponse, dependencies=[CSRF])
def officers_grant(
    request: Request,
    session: DbSession,
    staff: OfficerContext = STAFF,
    nik: str = Form("", max_length=16),
    role: str = Form("", max_length=24),
    agency_id: str = Form("", max_length=64),
) -> Response:
    """Grant a role to the account of the resident with this NIK."""
    agency = agency_id.strip() or None
    if not officers.may_grant(staff, role, agency):
        raise Problem("forbidden", "You may not grant this role at this agency.")
    account = accounts.account_for_nik(session=session, nik=nik.strip())
    if account is None:
        raise Problem("validation-error", "This NIK has no activated account.")
    officers.grant_role(
        session=session,
        account_id=account.id,
        role=role,
        agency_id=agency,
        granted_by=f"account:{staff.account_id}",
        ip=client_ip(request),
    )
    return _redirect("/petugas")


@router.post("/petugas/{grant_id}/cabut", dependencies=[CSRF])
def officers_revoke(
    request: Request, grant_id: str, session: DbSession, staff: OfficerContext = STAFF
) -> Response:
    """Take a role away."""
    grant = officers.get_grant(session=session, grant_id=grant_id[:36])
    if grant is None:
        raise Problem("not-found", "No such role grant.")
    if not officers.may_grant(staff, grant.role, grant.agency_id):
        raise Problem("forbidden", "You may not revoke this role.")
    officers.revoke_role(
        session=session,
        grant_id=grant.id,
        revoked_by=f"account:{staff.account_id}",
        ip=client_ip(request),
    )
    return _redirect("/petugas")
