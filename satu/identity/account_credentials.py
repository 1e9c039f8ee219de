"""Accounts and their passwords: creating and finding accounts, password sign-in, changes.

The password check answers a wrong NIK and a wrong password with the same message in about
the same time (a dummy argon2 check runs when the account does not exist) and counts every
failure against the NIK typed and the client address (`account_throttle`). Changing the
password signs the account's other sessions out; disabling it signs it out everywhere.
Callers use these through `accounts`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.identity import passwords, sessions
from satu.identity.account_throttle import (
    INVALID_LOGIN,
    LOCKED,
    AccountError,
    clear_failures,
    ip_key,
    locked_for,
    nik_key,
    record_failure,
)
from satu.identity.audit import record_audit
from satu.identity.models import Account, Resident, RoleGrant
from satu.identity.schemas import AccountOut, RoleGrantOut


def _account_out(session: Session, account: Account) -> AccountOut:
    grants = session.scalars(
        select(RoleGrant).where(RoleGrant.account_id == account.id).order_by(RoleGrant.granted_at)
    )
    return AccountOut(
        id=account.id,
        resident_nik=account.resident_nik,
        status=account.status,  # type: ignore[arg-type]
        totp_enabled=account.totp_enabled_at is not None,
        created_at=account.created_at,
        password_changed_at=account.password_changed_at,
        last_login_at=account.last_login_at,
        roles=[
            RoleGrantOut(
                id=g.id,
                account_id=g.account_id,
                role=g.role,  # type: ignore[arg-type]
                agency_id=g.agency_id,
                granted_by=g.granted_by,
                granted_at=g.granted_at,
            )
            for g in grants
        ],
    )


def find_account(*, session: Session, account_id: str) -> AccountOut | None:
    """The account with this id, or None."""
    account = session.get(Account, account_id)
    return _account_out(session, account) if account is not None else None


def account_for_nik(*, session: Session, nik: str) -> AccountOut | None:
    """The account of the resident with this NIK, or None."""
    account = session.scalar(select(Account).where(Account.resident_nik == nik))
    return _account_out(session, account) if account is not None else None


def create_account(
    *, session: Session, nik: str, password: str, actor: str = "system", ip: str | None = None
) -> AccountOut:
    """Create the account of a living resident (no contact check: for trusted callers)."""
    resident = session.get(Resident, nik)
    if resident is None or resident.status != "alive":
        raise AccountError("No living resident has this NIK.")
    if session.scalar(select(Account.id).where(Account.resident_nik == nik)) is not None:
        raise AccountError("This resident already has an account.")
    problems = passwords.password_problems(password, nik=nik)
    if problems:
        raise AccountError(problems[0])
    now = utcnow()
    account = Account(
        id=str(uuid.uuid4()),
        resident_nik=nik,
        password_hash=passwords.hash_password(password),
        status="active",
        created_at=now,
        password_changed_at=now,
    )
    session.add(account)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="account.created",
        target=f"account:{account.id}",
        ip=ip,
    )
    return _account_out(session, account)


@dataclass(frozen=True)
class PasswordCheck:
    """A successful password check."""

    account_id: str
    nik: str
    totp_enabled: bool


def check_password(*, session: Session, nik: str, password: str, ip: str | None) -> PasswordCheck:
    """Check a NIK and password with throttling; raise `AccountError` with one generic message."""
    nik = nik.strip()
    keys = [nik_key(nik), ip_key(ip)]
    wait = locked_for(session=session, keys=keys)
    if wait:
        record_audit(
            session=session,
            actor="anonymous",
            action="login.locked",
            target=keys[0],
            ip=ip,
            detail={"retry_after": wait},
        )
        raise AccountError(LOCKED, retry_after=wait)
    account = None
    if len(nik) == 16 and nik.isdigit():
        account = session.scalar(select(Account).where(Account.resident_nik == nik))
    ok = passwords.verify_password(account.password_hash if account else None, password[:1024])
    if not ok or account is None or account.status != "active":
        record_failure(session=session, keys=keys)
        record_audit(
            session=session,
            actor=f"account:{account.id}" if account else "anonymous",
            action="login.failed",
            target=keys[0],
            ip=ip,
            detail={"factor": "pwd"},
        )
        raise AccountError(INVALID_LOGIN)
    if passwords.needs_rehash(account.password_hash):
        account.password_hash = passwords.hash_password(password)
    if account.totp_enabled_at is None:
        clear_failures(session=session, key=keys[0])
    session.flush()
    return PasswordCheck(
        account_id=account.id,
        nik=account.resident_nik,
        totp_enabled=account.totp_enabled_at is not None,
    )


def mark_login(*, session: Session, account_id: str, acr: str, ip: str | None) -> None:
    """Record a completed sign-in."""
    account = session.get(Account, account_id)
    if account is None:
        return
    account.last_login_at = utcnow()
    clear_failures(session=session, key=nik_key(account.resident_nik))
    record_audit(
        session=session,
        actor=f"account:{account_id}",
        action="login.succeeded",
        target=f"account:{account_id}",
        ip=ip,
        detail={"acr": acr},
    )


def change_password(
    *,
    session: Session,
    account_id: str,
    current_password: str,
    new_password: str,
    keep_session_id: str | None = None,
    ip: str | None = None,
) -> None:
    """Change the password after checking the current one; other sessions are signed out."""
    account = session.get(Account, account_id)
    if account is None:
        raise AccountError("No such account.")
    key = nik_key(account.resident_nik)
    if locked_for(session=session, keys=[key]):
        raise AccountError(LOCKED)
    if not passwords.verify_password(account.password_hash, current_password[:1024]):
        record_failure(session=session, keys=[key])
        record_audit(
            session=session,
            actor=f"account:{account_id}",
            action="password.change_failed",
            target=f"account:{account_id}",
            ip=ip,
        )
        raise AccountError("The current password is wrong.")
    _set_password(session, account, new_password, ip=ip, actor=f"account:{account_id}")
    sessions.revoke_all_sessions(session=session, account_id=account_id, except_id=keep_session_id)


def _set_password(
    session: Session, account: Account, password: str, *, ip: str | None, actor: str
) -> None:
    problems = passwords.password_problems(password, nik=account.resident_nik)
    if problems:
        raise AccountError(problems[0])
    account.password_hash = passwords.hash_password(password)
    account.password_changed_at = utcnow()
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="password.changed",
        target=f"account:{account.id}",
        ip=ip,
    )


def set_account_status(
    *, session: Session, account_id: str, status: str, actor: str, ip: str | None = None
) -> None:
    """Enable or disable an account; disabling signs it out everywhere."""
    if status not in ("active", "disabled"):
        raise AccountError("Unknown account status.")
    account = session.get(Account, account_id)
    if account is None:
        raise AccountError("No such account.")
    account.status = status
    if status == "disabled":
        sessions.revoke_all_sessions(session=session, account_id=account_id)
    record_audit(
        session=session,
        actor=actor,
        action=f"account.{status}",
        target=f"account:{account_id}",
        ip=ip,
    )


def last_password_change(*, session: Session, account_id: str) -> datetime | None:
    """When the account's password was last set."""
    account = session.get(Account, account_id)
    return account.password_changed_at if account else None
