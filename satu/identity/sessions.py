"""Browser sign-in sessions: server-side rows behind an HttpOnly cookie, listable, revocable.

The cookie holds a random secret; the row stores only its SHA-256, so a database leak gives
no usable cookie. A session is `pending_totp` between the password and the TOTP code and
`active` after; any change of level issues a new cookie (no session fixation).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from fastapi import Request, Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from satu.core.csrf import require_csrf
from satu.core.db import utcnow
from satu.identity.audit import client_ip
from satu.identity.models import Account, LoginSession
from satu.identity.schemas import LoginInfo, SessionOut

ABSOLUTE_LIFETIME = timedelta(hours=12)
IDLE_TIMEOUT = timedelta(hours=2)
PENDING_LIFETIME = timedelta(minutes=5)
TOUCH_EVERY = timedelta(minutes=1)
_STATE_KEY = "identity_login_session"


def cookie_name(request: Request) -> str:
    """`__Host-satu_session` over HTTPS, `satu_session` on plain-HTTP development servers."""
    return "__Host-satu_session" if request.url.scheme == "https" else "satu_session"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _set_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        cookie_name(request),
        token,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_cookie(request: Request, response: Response) -> None:
    """Tell the browser to forget its session cookie."""
    response.delete_cookie(
        cookie_name(request),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def start_session(
    *,
    session: Session,
    request: Request,
    response: Response,
    account_id: str,
    acr: str,
    amr: list[str],
    stage: str = "active",
    replace: LoginSession | None = None,
) -> LoginSession:
    """Open a new sign-in session (revoking `replace`) and set its cookie on `response`."""
    now = utcnow()
    if replace is not None and replace.revoked_at is None:
        replace.revoked_at = now
    token = secrets.token_urlsafe(32)
    lifetime = PENDING_LIFETIME if stage != "active" else ABSOLUTE_LIFETIME
    row = LoginSession(
        id=str(uuid.uuid4()),
        token_hash=_digest(token),
        account_id=account_id,
        stage=stage,
        acr=acr,
        amr=list(amr),
        auth_time=now,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        ip=client_ip(request),
        user_agent=(request.headers.get("user-agent") or "")[:300] or None,
    )
    session.add(row)
    session.flush()
    _set_cookie(request, response, token)
    setattr(request.state, _STATE_KEY, row)
    return row


def session_row(*, session: Session, request: Request) -> LoginSession | None:
    """This browser's live session row (active or pending), if any."""
    cached = getattr(request.state, _STATE_KEY, None)
    if cached is not None:
        return cached if cached.revoked_at is None else None
    token = request.cookies.get(cookie_name(request))
    if not token or len(token) > 100:
        return None
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == _digest(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.stage == "active" and row.last_seen_at + IDLE_TIMEOUT <= now:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.flush()
    setattr(request.state, _STATE_KEY, row)
    return row


def current_login(*, session: Session, request: Request) -> LoginInfo | None:
    """Who is fully signed in on this browser, or None; unsafe requests need CSRF proof.

    The cookie is sent by the browser whoever made the page that caused the request, so on
    POST, PUT, PATCH or DELETE a signed-in session counts only with a valid `X-CSRF-Token`
    header or a form token `verify_csrf` accepted (`satu.core.csrf.require_csrf`, 403 else).
    Every access rule built on the session goes through here; bearer tokens never do.
    """
    row = session_row(session=session, request=request)
    if row is None or row.stage != "active":
        return None
    nik = session.scalar(
        select(Account.resident_nik).where(Account.id == row.account_id, Account.status == "active")
    )
    if nik is None:
        return None
    require_csrf(request)
    return LoginInfo(
        account_id=row.account_id,
        resident_nik=nik,
        acr=row.acr,  # type: ignore[arg-type]
        amr=list(row.amr),
        auth_time=row.auth_time,
        login_session_id=row.id,
    )


def logout(*, session: Session, request: Request, response: Response) -> str | None:
    """End this browser's session (if any) and clear its cookie; returns the account id."""
    row = session_row(session=session, request=request)
    clear_cookie(request, response)
    setattr(request.state, _STATE_KEY, None)
    if row is None:
        return None
    row.revoked_at = utcnow()
    session.flush()
    return row.account_id


def list_sessions(
    *, session: Session, account_id: str, current_id: str | None = None
) -> list[SessionOut]:
    """The account's live sessions, newest first."""
    now = utcnow()
    rows = session.scalars(
        select(LoginSession)
        .where(
            LoginSession.account_id == account_id,
            LoginSession.revoked_at.is_(None),
            LoginSession.stage == "active",
            LoginSession.expires_at > now,
            LoginSession.last_seen_at > now - IDLE_TIMEOUT,
        )
        .order_by(LoginSession.created_at.desc())
    )
    return [
        SessionOut(
            id=row.id,
            acr=row.acr,
            amr=list(row.amr),
            auth_time=row.auth_time,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            ip=row.ip,
            user_agent=row.user_agent,
            current=row.id == current_id,
        )
        for row in rows
    ]


def revoke_session(*, session: Session, account_id: str, session_id: str) -> bool:
    """Revoke one of the account's sessions; False if it has no such live session."""
    result = session.execute(
        update(LoginSession)
        .where(
            LoginSession.id == session_id,
            LoginSession.account_id == account_id,
            LoginSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_all_sessions(*, session: Session, account_id: str, except_id: str | None = None) -> int:
    """Revoke every session of the account (but `except_id`); returns how many."""
    query = update(LoginSession).where(
        LoginSession.account_id == account_id, LoginSession.revoked_at.is_(None)
    )
    if except_id is not None:
        query = query.where(LoginSession.id != except_id)
    result = session.execute(
        query.values(revoked_at=utcnow()).execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def is_session_live(*, session: Session, session_id: str) -> bool:
    """Whether a sign-in session still stands (for RP session checks and logout)."""
    row = session.get(LoginSession, session_id)
    now = utcnow()
    return bool(
        row is not None
        and row.revoked_at is None
        and row.stage == "active"
        and row.expires_at > now
        and row.last_seen_at + IDLE_TIMEOUT > now
    )
