"""Sign-in pages: password, TOTP step, step-up, sign-out, activation and password reset.

Every form is CSRF-protected; errors are shown on the page (the response still commits, so
failed attempts are counted); `next` is always checked to be a same-origin path.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from satu.core.auth import public
from satu.core.csrf import csrf_token, verify_csrf
from satu.core.db import DbSession
from satu.core.i18n import gettext_
from satu.core.web import render
from satu.identity import accounts, sessions, totp
from satu.identity.audit import client_ip, record_audit
from satu.identity.schemas import ACR_LEVELS, ACR_PWD, ACR_PWD_TOTP
from satu.identity.service import acr_satisfies, safe_next

router = APIRouter(tags=["identity pages"], include_in_schema=False)
CSRF = Depends(verify_csrf)


def _acr(value: str | None) -> str | None:
    return value if value in ACR_LEVELS else None


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("csrf_token", csrf_token(request))
    headers = {"cache-control": "no-store"}
    if context.get("retry_after"):
        headers["retry-after"] = str(context["retry_after"])
    return render(
        request, f"identity/{template}", context, status_code=status_code, headers=headers
    )


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})


def _error_status(exc: accounts.AccountError) -> int:
    return 429 if exc.message == accounts.LOCKED else 401


# --- sign-in ----------------------------------------------------------------------------------


@router.get("/masuk", response_class=HTMLResponse, dependencies=[Depends(public)])
def login_page(
    request: Request,
    session: DbSession,
    next: str | None = None,
    acr: str | None = None,
    prompt: str | None = None,
) -> Response:
    """The sign-in page; skips ahead when the browser is already signed in strongly enough."""
    target, wanted = safe_next(next), _acr(acr)
    row = sessions.session_row(session=session, request=request)
    if row is not None and row.stage == "active" and prompt != "login":
        if acr_satisfies(row.acr, wanted):
            return _redirect(target)
        account = accounts.find_account(session=session, account_id=row.account_id)
        if account is not None and account.totp_enabled:
            return _page(request, "login_totp.html", next=target, acr=wanted, step_up=True)
        return _page(request, "totp_required.html", next=target)
    return _page(request, "login.html", next=target, acr=wanted, nik="")


@router.post("/masuk", response_class=HTMLResponse, dependencies=[Depends(public), CSRF])
def login_submit(
    request: Request,
    session: DbSession,
    nik: str = Form("", max_length=64),
    password: str = Form("", max_length=1024),
    next: str = Form("/akun", max_length=4000),
    acr: str = Form("", max_length=64),
) -> Response:
    """Check NIK and password; go to the TOTP step when the account has one."""
    target, wanted, ip = safe_next(next), _acr(acr), client_ip(request)
    try:
        check = accounts.check_password(session=session, nik=nik, password=password, ip=ip)
    except accounts.AccountError as exc:
        return _page(
            request,
            "login.html",
            status_code=_error_status(exc),
            next=target,
            acr=wanted,
            nik=nik.strip()[:16],
            error=gettext_(exc.message),
            retry_after=exc.retry_after,
        )
    previous = sessions.session_row(session=session, request=request)
    if check.totp_enabled:
        response = _redirect(
            "/masuk/totp?" + _query(next=target, acr=wanted),
        )
        sessions.start_session(
            session=session,
            request=request,
            response=response,
            account_id=check.account_id,
            acr=ACR_PWD,
            amr=["pwd"],
            stage="pending_totp",
            replace=previous,
        )
        return response
    if wanted == ACR_PWD_TOTP:
        response = _page(request, "totp_required.html", next=target)
    else:
        response = _redirect(target)
    sessions.start_session(
        session=session,
        request=request,
        response=response,
        account_id=check.account_id,
        acr=ACR_PWD,
        amr=["pwd"],
        replace=previous,
    )
    accounts.mark_login(session=session, account_id=check.account_id, acr=ACR_PWD, ip=ip)
    return response


def _query(**params: str | None) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in params.items() if v})


@router.get("/masuk/totp", response_class=HTMLResponse, dependencies=[Depends(public)])
def totp_page(
    request: Request, session: DbSession, next: str | None = None, acr: str | None = None
) -> Response:
    """The second step: the code from the authenticator app."""
    target = safe_next(next)
    row = sessions.session_row(session=session, request=request)
    if row is None:
        return _redirect("/masuk?" + _query(next=target, acr=_acr(acr)))
    return _page(request, "login_totp.html", next=target, acr=_acr(acr), step_up=False)


@router.post("/masuk/totp", response_class=HTMLResponse, dependencies=[Depends(public), CSRF])
def totp_submit(
    request: Request,
    session: DbSession,
    code: str = Form("", max_length=16),
    next: str = Form("/akun", max_length=4000),
    acr: str = Form("", max_length=64),
) -> Response:
    """Check the TOTP code; on success the session is upgraded to password + TOTP."""
    target, wanted, ip = safe_next(next), _acr(acr), client_ip(request)
    row = sessions.session_row(session=session, request=request)
    if row is None:
        return _redirect("/masuk?" + _query(next=target, acr=wanted))
    error: str | None = None
    retry_after = None
    try:
        ok = totp.verify_totp(session=session, account_id=row.account_id, code=code, ip=ip)
    except accounts.AccountError as exc:
        ok, error, retry_after = False, gettext_(exc.message), exc.retry_after
    if not ok:
        return _page(
            request,
            "login_totp.html",
            status_code=429 if retry_after else 401,
            next=target,
            acr=wanted,
            step_up=row.stage == "active",
            error=error or gettext_("The code is wrong or was already used. Wait for a new code."),
            retry_after=retry_after,
        )
    response = _redirect(target)
    sessions.start_session(
        session=session,
        request=request,
        response=response,
        account_id=row.account_id,
        acr=ACR_PWD_TOTP,
        amr=["pwd", "otp"],
        replace=row,
    )
    accounts.mark_login(session=session, account_id=row.account_id, acr=ACR_PWD_TOTP, ip=ip)
    return response


@router.get("/keluar", response_class=HTMLResponse, dependencies=[Depends(public)])
def logout_page(request: Request, next: str | None = None) -> Response:
    """Ask to confirm signing out (a link alone must never sign anyone out)."""
    return _page(request, "logout.html", next=safe_next(next, "/"))


@router.post("/keluar", response_class=HTMLResponse, dependencies=[Depends(public), CSRF])
def logout_submit(
    request: Request, session: DbSession, next: str = Form("/", max_length=4000)
) -> Response:
    """Sign out of this browser."""
    response = _redirect(safe_next(next, "/"))
    account_id = sessions.logout(session=session, request=request, response=response)
    if account_id is not None:
        record_audit(
            session=session,
            actor=f"account:{account_id}",
            action="logout",
            target=f"account:{account_id}",
            ip=client_ip(request),
        )
    return response


# --- activation -------------------------------------------------------------------------------


@router.get("/aktivasi", response_class=HTMLResponse, dependencies=[Depends(public)])
def activation_page(request: Request) -> Response:
    """Start activating an account: NIK, name and birth date as on the KTP."""
    return _page(request, "activate.html", form={})


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


@router.post("/aktivasi", response_class=HTMLResponse, dependencies=[Depends(public), CSRF])
def activation_submit(
    request: Request,
    session: DbSession,
    nik: str = Form("", max_length=64),
    full_name: str = Form("", max_length=200),
    birth_date: str = Form("", max_length=32),
) -> Response:
    """Check the data against the register and send a code to the registered contact."""
    form = {"nik": nik.strip()[:16], "full_name": full_name[:200], "birth_date": birth_date[:10]}
    born = _parse_date(birth_date)
    if born is None:
        return _page(
            request,
            "activate.html",
            status_code=422,
            form=form,
            error=gettext_("Enter the birth date as on your KTP."),
        )
    try:
        destination = accounts.start_activation(
            session=session, nik=nik, full_name=full_name, birth_date=born, ip=client_ip(request)
        )
    except accounts.AccountError as exc:
        return _page(
            request,
            "activate.html",
            status_code=_error_status(exc) if exc.retry_after else 422,
            form=form,
            error=gettext_(exc.message),
            retry_after=exc.retry_after,
        )
    return _page(request, "activate_code.html", nik=form["nik"], destination=destination)


@router.post("/aktivasi/kode", response_class=HTMLResponse, dependencies=[Depends(public), CSRF])
def activation_code_submit(
    request: Request,
    session: DbSession,
    nik: str = Form("", max_length=64),
    code: str = Form("", max_length=16),
    password: str = Form("", max_length=1024),
    password_again: str = Form("", max_length=1024),
) -> Response:
    """Check the code and set the password: the account exists from now on."""
    nik = nik.strip()[:16]
    if password != password_again:
        return _page(
            request,
            "activate_code.html",
            status_code=422,
            nik=nik,
            error=gettext_("The two passwords are not the same."),
        )
    try:
        accounts.complete_activation(
            session=session, nik=nik, code=code, password=password, ip=client_ip(request)
        )
    except accounts.AccountError as exc:
        return _page(
            request, "activate_code.html", status_code=422, nik=nik, error=gettext_(exc.message)
        )
    return _page(request, "done.html", kind="activated")


# --- password reset ---------------------------------------------------------------------------


@router.get("/lupa-sandi", response_class=HTMLResponse, dependencies=[Depends(public)])
def reset_page(request: Request) -> Response:
    """Ask for a password reset code."""
    return _page(request, "reset.html", nik="")


@router.post("/lupa-sandi", response_class=HTMLResponse, dependencies=[Depends(public), CSRF])
def reset_submit(
    request: Request, session: DbSession, nik: str = Form("", max_length=64)
) -> Response:
    """Send a code if the NIK has an account; the answer is the same either way."""
    nik = nik.strip()[:16]
    try:
        accounts.start_password_reset(session=session, nik=nik, ip=client_ip(request))
    except accounts.AccountError as exc:
        return _page(
            request,
            "reset.html",
            status_code=429,
            nik=nik,
            error=gettext_(exc.message),
            retry_after=exc.retry_after,
        )
    return _page(request, "reset_code.html", nik=nik, sent=True)


@router.post("/lupa-sandi/kode", response_class=HTMLResponse, dependencies=[Depends(public), CSRF])
def reset_code_submit(
    request: Request,
    session: DbSession,
    nik: str = Form("", max_length=64),
    code: str = Form("", max_length=16),
    password: str = Form("", max_length=1024),
    password_again: str = Form("", max_length=1024),
) -> Response:
    """Set a new password with the code; every session of the account is signed out."""
    nik = nik.strip()[:16]
    if password != password_again:
        return _page(
            request,
            "reset_code.html",
            status_code=422,
            nik=nik,
            error=gettext_("The two passwords are not the same."),
        )
    try:
        accounts.complete_password_reset(
            session=session, nik=nik, code=code, new_password=password, ip=client_ip(request)
        )
    except accounts.AccountError as exc:
        return _page(
            request, "reset_code.html", status_code=422, nik=nik, error=gettext_(exc.message)
        )
    return _page(request, "done.html", kind="reset")
