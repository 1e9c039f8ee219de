"""Accounts: activation with a contact check, password sign-in with throttling, reset.

No user enumeration: a wrong NIK and a wrong password give the same answer in about the same
time (a dummy argon2 check runs when the account does not exist), and lockouts are keyed by
a digest of the NIK typed, so an unknown NIK locks exactly like a known one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from satu.core import notify
from satu.core.db import utcnow
from satu.identity import passwords, sessions
from satu.identity.audit import record_audit
from satu.identity.models import Account, Resident, RoleGrant, Throttle, VerificationCode
from satu.identity.schemas import AccountOut, RoleGrantOut

NIK_FREE_FAILURES = 5
IP_FREE_FAILURES = 30
BASE_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(hours=1)
DECAY = timedelta(hours=1)
CODE_LIFETIME = timedelta(minutes=10)
CODE_MAX_ATTEMPTS = 5


class AccountError(Exception):
    """A refused account operation, with an English message id for the person."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        self.message = message
        self.retry_after = retry_after
        super().__init__(message)


INVALID_LOGIN = "The NIK or password is wrong."
LOCKED = "Too many failed attempts. Wait a moment and try again."


def nik_key(nik: str, prefix: str = "nik") -> str:
    """The throttle key for a typed NIK (a digest: the table never holds NIKs)."""
    return f"{prefix}:" + hashlib.sha256(nik.strip().encode()).hexdigest()[:40]


def ip_key(ip: str | None) -> str:
    """The throttle key for a client address."""
    return f"ip:{ip or 'unknown'}"


def _throttle_row(session: Session, key: str) -> Throttle:
    row = session.get(Throttle, key)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = Throttle(key=key, failures=0, last_failure_at=utcnow())
            session.add(row)
    except IntegrityError:
        row = session.get(Throttle, key)
        assert row is not None
    return row


def locked_for(*, session: Session, keys: list[str]) -> int:
    """Seconds until every key is free again (0 when none is locked)."""
    now = utcnow()
    wait = 0
    for key in keys:
        row = session.get(Throttle, key)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            wait = max(wait, int((row.locked_until - now).total_seconds()) + 1)
    return wait


def _free_failures(key: str) -> int:
    return IP_FREE_FAILURES if key.startswith("ip:") else NIK_FREE_FAILURES


def record_failure(*, session: Session, keys: list[str]) -> None:
    """Count a failure on every key; past the free allowance, lock with exponential back-off."""
    now = utcnow()
    for key in keys:
        row = _throttle_row(session, key)
        if row.last_failure_at + DECAY < now:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        over = row.failures - _free_failures(key)
        if over >= 0:
            lock = min(BASE_LOCK * (2 ** min(over, 20)), MAX_LOCK)
            row.locked_until = now + lock
    session.flush()


def clear_failures(*, session: Session, key: str) -> None:
    """Forget the failures of one key (after a success)."""
    row = session.get(Throttle, key)
    if row is not None:
        row.failures = 0
        row.locked_until = None
        session.flush()


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


# --- one-time codes to the registered contact ------------------------------------------------


def mask_phone(phone: str | None) -> str | None:
    """`+62812****5678`-style masking."""
    if not phone:
        return None
    return phone[:6] + "*" * max(len(phone) - 10, 2) + phone[-4:]


def mask_email(email: str | None) -> str | None:
    """`a***@example.id`-style masking."""
    if not email or "@" not in email:
        return None
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _code_digest(code_id: str, code: str) -> str:
    return hashlib.sha256(f"{code_id}:{code}".encode()).hexdigest()


def _send_code(session: Session, resident: Resident, purpose: str) -> str:
    """Create a code for `purpose`, send it, and return the masked destination."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    code_id = str(uuid.uuid4())
    channel = "sms" if resident.phone else "email"
    destination = resident.phone or resident.email
    if destination is None:
        raise AccountError("No phone number or e-mail address is registered for this resident.")
    now = utcnow()
    session.add(
        VerificationCode(
            id=code_id,
            purpose=purpose,
            nik=resident.nik,
            code_hash=_code_digest(code_id, code),
            channel=channel,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    what = "activation" if purpose == "activation" else "password reset"
    notify.send_message(
        session=session,
        channel=channel,  # type: ignore[arg-type]
        to=destination,
        subject=f"Satu {what} code",
        body=(
            f"Kode {'aktivasi' if purpose == 'activation' else 'atur ulang kata sandi'} Satu: "
            f"{code}. Berlaku 10 menit. Jangan berikan kepada siapa pun. / Your Satu {what} "
            f"code: {code}. Valid 10 minutes. Never share it."
        ),
    )
    session.flush()
    return (mask_phone(resident.phone) if channel == "sms" else mask_email(resident.email)) or ""


def _use_code(session: Session, *, nik: str, purpose: str, code: str) -> bool:
    """Consume the newest live code for (nik, purpose) if `code` matches."""
    now = utcnow()
    row = session.scalar(
        select(VerificationCode)
        .where(
            VerificationCode.nik == nik,
            VerificationCode.purpose == purpose,
            VerificationCode.used_at.is_(None),
        )
        .order_by(VerificationCode.created_at.desc())
        .limit(1)
    )
    if row is None or row.expires_at <= now or row.attempts >= CODE_MAX_ATTEMPTS:
        return False
    row.attempts += 1
    session.flush()
    if not hmac.compare_digest(row.code_hash, _code_digest(row.id, code.strip())):
        return False
    row.used_at = now
    session.flush()
    return True


def _normal_name(name: str) -> str:
    return " ".join(name.casefold().split())


ACTIVATION_REFUSED = (
    "These details do not match a resident who can activate an account. "
    "If you have activated before, sign in or reset your password."
)


def start_activation(
    *, session: Session, nik: str, full_name: str, birth_date: date, ip: str | None
) -> str:
    """Check NIK, name and birth date, then send a code to the registered contact."""
    nik = nik.strip()
    keys = [nik_key(nik, "act"), ip_key(ip)]
    wait = locked_for(session=session, keys=keys)
    if wait:
        raise AccountError(LOCKED, retry_after=wait)
    resident = session.get(Resident, nik) if len(nik) == 16 and nik.isdigit() else None
    matches = (
        resident is not None
        and resident.status == "alive"
        and _normal_name(resident.full_name) == _normal_name(full_name)
        and resident.birth_date == birth_date
        and session.scalar(select(Account.id).where(Account.resident_nik == nik)) is None
    )
    if not matches or resident is None:
        record_failure(session=session, keys=keys)
        record_audit(
            session=session, actor="anonymous", action="activation.refused", target=keys[0], ip=ip
        )
        raise AccountError(ACTIVATION_REFUSED)
    destination = _send_code(session, resident, "activation")
    record_audit(
        session=session,
        actor="anonymous",
        action="activation.code_sent",
        target=f"resident:{nik[:6]}**********",
        ip=ip,
    )
    return destination


def complete_activation(
    *, session: Session, nik: str, code: str, password: str, ip: str | None
) -> AccountOut:
    """Check the code sent at activation and create the account with `password`."""
    nik = nik.strip()
    keys = [nik_key(nik, "act"), ip_key(ip)]
    if locked_for(session=session, keys=keys):
        raise AccountError(LOCKED)
    problems = passwords.password_problems(password, nik=nik)
    if problems:
        raise AccountError(problems[0])
    if not _use_code(session, nik=nik, purpose="activation", code=code):
        record_failure(session=session, keys=keys)
        raise AccountError("The code is wrong or has expired.")
    account = create_account(session=session, nik=nik, password=password, actor="anonymous", ip=ip)
    clear_failures(session=session, key=keys[0])
    return account


RESET_SENT = "If an account exists for this NIK, a code has been sent to its registered contact."


def start_password_reset(*, session: Session, nik: str, ip: str | None) -> None:
    """Send a reset code when the NIK has an account; say nothing either way."""
    nik = nik.strip()
    keys = [nik_key(nik, "reset"), ip_key(ip)]
    if locked_for(session=session, keys=keys):
        raise AccountError(LOCKED)
    record_failure(session=session, keys=[keys[0]])  # every request counts: limits code spam
    account = session.scalar(select(Account).where(Account.resident_nik == nik))
    resident = session.get(Resident, nik) if account is not None else None
    if account is None or resident is None or account.status != "active":
        passwords.verify_password(None, nik)  # same time either way
        return
    _send_code(session, resident, "reset")
    record_audit(
        session=session,
        actor="anonymous",
        action="password.reset_requested",
        target=f"account:{account.id}",
        ip=ip,
    )


def complete_password_reset(
    *, session: Session, nik: str, code: str, new_password: str, ip: str | None
) -> None:
    """Set a new password with a reset code; every session of the account is signed out."""
    nik = nik.strip()
    keys = [nik_key(nik, "resetcode"), ip_key(ip)]
    if locked_for(session=session, keys=keys):
        raise AccountError(LOCKED)
    account = session.scalar(select(Account).where(Account.resident_nik == nik))
    if account is None or not _use_code(session, nik=nik, purpose="reset", code=code):
        record_failure(session=session, keys=keys)
        raise AccountError("The code is wrong or has expired.")
    _set_password(session, account, new_password, ip=ip, actor="anonymous")
    sessions.revoke_all_sessions(session=session, account_id=account.id)
    clear_failures(session=session, key=nik_key(nik))


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
