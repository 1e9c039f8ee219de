"""TOTP (RFC 6238) as a second factor, with replay protection.

A code is accepted for the current 30-second step or one step either side (clock drift), and
only once: the account remembers the last step used, and a code for that step or an earlier
one is refused, so a code seen over a shoulder cannot be replayed. Failures count toward the
same lockout as passwords.

Enrolling needs a fresh authentication: a sign-in within `REAUTH_WINDOW`, else the password
typed again. Turning TOTP off (the way to replace it) needs the password and a current code,
so a session opened with the password alone cannot remove or swap the second factor.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from datetime import datetime, timedelta

import pyotp
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from satu.core.config import get_settings
from satu.core.csrf import app_secret
from satu.core.db import utcnow
from satu.identity import passwords
from satu.identity.accounts import (
    LOCKED,
    AccountError,
    clear_failures,
    locked_for,
    nik_key,
    record_failure,
)
from satu.identity.audit import record_audit
from satu.identity.models import Account

ISSUER = "Satu"
STEP_SECONDS = 30
DRIFT_STEPS = 1
REAUTH_WINDOW = timedelta(minutes=5)
ALREADY_ON = "Your authenticator app is already on. Turn it off first to replace it."


def _key() -> bytes:
    return hashlib.sha256(b"satu.totp-at-rest:" + app_secret(get_settings())).digest()


def seal_secret(secret: str) -> str:
    """Encrypt a TOTP secret for storage (AES-256-GCM under a key derived from the app secret)."""
    nonce = os.urandom(12)
    sealed = AESGCM(_key()).encrypt(nonce, secret.encode(), b"totp")
    return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal_secret(stored: str) -> str:
    """The TOTP secret from its stored form."""
    if not stored.startswith("v1:"):
        return stored
    raw = base64.urlsafe_b64decode(stored[3:].encode())
    return AESGCM(_key()).decrypt(raw[:12], raw[12:], b"totp").decode()


def new_secret() -> str:
    """A fresh random base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(*, secret: str, label: str) -> str:
    """The `otpauth://` URI an authenticator app imports."""
    return pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=ISSUER)


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def recently_authenticated(auth_time: datetime) -> bool:
    """Whether a sign-in at `auth_time` is fresh enough to change the second factor."""
    return auth_time >= utcnow() - REAUTH_WINDOW


def reauthenticate(
    *, session: Session, account_id: str, password: str, ip: str | None = None
) -> None:
    """Re-check the signed-in person's password (throttled); `AccountError` if wrong or locked."""
    account = session.get(Account, account_id)
    if account is None:
        raise AccountError("No such account.")
    keys = [nik_key(account.resident_nik), f"ip:{ip or 'unknown'}"]
    wait = locked_for(session=session, keys=keys)
    if wait:
        raise AccountError(LOCKED, retry_after=wait)
    if not passwords.verify_password(account.password_hash, password[:1024]):
        record_failure(session=session, keys=keys)
        record_audit(
            session=session,
            actor=f"account:{account_id}",
            action="reauth.failed",
            target=f"account:{account_id}",
            ip=ip,
        )
        raise AccountError("The password is wrong.")


def enable_totp(
    *, session: Session, account_id: str, secret: str, code: str, ip: str | None = None
) -> bool:
    """Turn TOTP on after the person proves their app shows the right code (never replaces one).

    The caller has made sure the person authenticated freshly (`recently_authenticated` or
    `reauthenticate`).
    """
    account = session.get(Account, account_id)
    if account is None:
        raise AccountError("No such account.")
    if account.totp_secret is not None:
        raise AccountError(ALREADY_ON)
    step = _matching_step(secret, code)
    if step is None:
        record_audit(
            session=session,
            actor=f"account:{account_id}",
            action="totp.enrol_failed",
            target=f"account:{account_id}",
            ip=ip,
        )
        return False
    account.totp_secret = seal_secret(secret)
    account.totp_enabled_at = utcnow()
    account.totp_last_step = step
    session.flush()
    record_audit(
        session=session,
        actor=f"account:{account_id}",
        action="totp.enabled",
        target=f"account:{account_id}",
        ip=ip,
    )
    return True


def verify_totp(
    *, session: Session, account_id: str, code: str, ip: str | None = None, now: float | None = None
) -> bool:
    """Check a code (throttled, single use); raise `AccountError` while locked out."""
    account = session.get(Account, account_id)
    if account is None or account.totp_secret is None:
        return False
    key = nik_key(account.resident_nik)
    keys = [key, f"ip:{ip or 'unknown'}"]
    if locked_for(session=session, keys=keys):
        raise AccountError(LOCKED)
    step = _matching_step(unseal_secret(account.totp_secret), code, now)
    replay = (
        step is not None and account.totp_last_step is not None and step <= account.totp_last_step
    )
    if step is None or replay:
        record_failure(session=session, keys=keys)
        record_audit(
            session=session,
            actor=f"account:{account_id}",
            action="login.failed",
            target=f"account:{account_id}",
            ip=ip,
            detail={"factor": "otp", "replay": replay},
        )
        return False
    account.totp_last_step = step
    clear_failures(session=session, key=key)
    session.flush()
    return True


def disable_totp(*, session: Session, account_id: str, ip: str | None = None) -> None:
    """Turn TOTP off (the caller has re-checked the password and a current code)."""
    account = session.get(Account, account_id)
    if account is None:
        raise AccountError("No such account.")
    account.totp_secret = None
    account.totp_enabled_at = None
    account.totp_last_step = None
    session.flush()
    record_audit(
        session=session,
        actor=f"account:{account_id}",
        action="totp.disabled",
        target=f"account:{account_id}",
        ip=ip,
    )
