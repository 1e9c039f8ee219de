"""Activation and password reset with one-time codes sent to the registered contact.

Activation checks NIK, name and birth date against the register before a code goes out; a
reset request says the same whether or not the NIK has an account. Codes are six digits,
stored as SHA-256, single use, 10 minutes, at most `CODE_MAX_ATTEMPTS` tries; every step is
throttled (`account_throttle`). Callers use these through `accounts`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.core import notify
from satu.core.db import utcnow
from satu.identity import passwords, sessions
from satu.identity.account_credentials import _set_password, create_account
from satu.identity.account_throttle import (
    LOCKED,
    AccountError,
    clear_failures,
    ip_key,
    locked_for,
    nik_key,
    record_failure,
)
from satu.identity.audit import record_audit
from satu.identity.models import Account, Resident, VerificationCode
from satu.identity.schemas import AccountOut

CODE_LIFETIME = timedelta(minutes=10)
CODE_MAX_ATTEMPTS = 5


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
