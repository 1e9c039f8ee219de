"""TOTP: set-up, second step at sign-in, replay refusal, step-up, lockout."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.identity import accounts, sessions, totp
from satu.identity.models import Account, LoginSession
from satu.identity.schemas import ACR_PWD_TOTP
from tests.identity.conftest import csrf_of, form_token, is_signed_in, sign_in


def _enable(db: Session, account_id: str) -> str:
    secret = totp.new_secret()
    assert totp.enable_totp(
        session=db, account_id=account_id, secret=secret, code=pyotp.TOTP(secret).now()
    )
    db.commit()
    return secret


def _code_for_step(secret: str, steps_ahead: int) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def test_set_up_through_the_pages_upgrades_this_session(
    client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    page = client.get("/akun/totp")
    assert page.status_code == 200
    key = re.search(r'<code id="totp-key">([A-Z2-7 ]+)</code>', page.text)
    assert key
    secret = key.group(1).replace(" ", "")
    assert "otpauth://totp/" in page.text
    sealed = re.search(r'name="sealed" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    bad = client.post(
        "/akun/totp", data={"sealed": sealed, "code": "000000", "csrf_token": csrf_of(page.text)}
    )
    assert bad.status_code == 422
    forged = client.post(
        "/akun/totp",
        data={"sealed": sealed + "x", "code": "000000", "csrf_token": csrf_of(page.text)},
    )
    assert forged.status_code == 403
    ok = client.post(
        "/akun/totp",
        data={
            "sealed": sealed,
            "code": pyotp.TOTP(secret).now(),
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    db.expire_all()
    assert db.get(Account, signed_in["account_id"]).totp_enabled_at is not None  # type: ignore[union-attr]
    assert "Password and authenticator app" in client.get("/akun?lang=en").text


def test_sign_in_then_code_gives_the_higher_level(
    client: TestClient, account: dict[str, str], db: Session
) -> None:
    secret = _enable(db, account["account_id"])
    first = sign_in(client, account["nik"], next_url="/akun/sesi", acr=ACR_PWD_TOTP)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/masuk/totp?")
    assert not is_signed_in(client)  # not signed in yet
    page = client.get(first.headers["location"])
    token = csrf_of(page.text)
    wrong = client.post(
        "/masuk/totp", data={"code": "12345x", "next": "/akun/sesi", "csrf_token": token}
    )
    assert wrong.status_code == 401
    code = _code_for_step(secret, 1)
    done = client.post(
        "/masuk/totp",
        data={"code": code, "next": "/akun/sesi", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/akun/sesi"
    assert "pwd + otp" in client.get("/akun/sesi").text


def test_a_code_cannot_be_replayed_within_its_step(
    client: TestClient, account: dict[str, str], db: Session
) -> None:
    secret = _enable(db, account["account_id"])
    code = _code_for_step(secret, 1)
    assert totp.verify_totp(session=db, account_id=account["account_id"], code=code)
    assert not totp.verify_totp(session=db, account_id=account["account_id"], code=code)
    older = _code_for_step(secret, 0)
    assert not totp.verify_totp(session=db, account_id=account["account_id"], code=older)


def test_drift_of_one_step_is_tolerated_but_not_more(db: Session, account: dict[str, str]) -> None:
    secret = _enable(db, account["account_id"])
    row = db.get(Account, account["account_id"])
    row.totp_last_step = None  # type: ignore[union-attr]
    now = time.time()
    far = pyotp.TOTP(secret).at(now + 120)
    assert not totp.verify_totp(session=db, account_id=account["account_id"], code=far, now=now)
    near = pyotp.TOTP(secret).at(now - 30)
    assert totp.verify_totp(session=db, account_id=account["account_id"], code=near, now=now)


def test_brute_force_on_totp_locks_out(db: Session, account: dict[str, str]) -> None:
    _enable(db, account["account_id"])
    for _ in range(accounts.NIK_FREE_FAILURES):
        assert not totp.verify_totp(session=db, account_id=account["account_id"], code="000001")
    with pytest.raises(accounts.AccountError):
        totp.verify_totp(session=db, account_id=account["account_id"], code="000002")


def test_step_up_from_password_session(
    client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    secret = _enable(db, signed_in["account_id"])  # set up elsewhere after this sign-in
    old_cookie = client.cookies.get("satu_session")
    page = client.get("/masuk", params={"next": "/akun/aktivitas", "acr": ACR_PWD_TOTP})
    assert page.status_code == 200
    assert 'action="/masuk/totp"' in page.text
    done = client.post(
        "/masuk/totp",
        data={
            "code": _code_for_step(secret, 1),
            "next": "/akun/aktivitas",
            "acr": ACR_PWD_TOTP,
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.cookies.get("satu_session") != old_cookie  # new session id after step-up
    assert (
        client.get(
            "/masuk", params={"acr": ACR_PWD_TOTP, "next": "/akun"}, follow_redirects=False
        ).headers["location"]
        == "/akun"
    )


def test_higher_level_asked_without_totp_set_up_shows_setup_page(
    client: TestClient, account: dict[str, str]
) -> None:
    response = sign_in(client, account["nik"], acr=ACR_PWD_TOTP, next_url="/akun")
    assert response.status_code == 200
    assert "/akun/totp?next=" in response.text
    already = client.get("/masuk", params={"acr": ACR_PWD_TOTP})
    assert "/akun/totp?next=" in already.text


def test_turning_totp_off_needs_the_password_and_a_current_code(
    client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    # A password-only session (opened before TOTP was set up elsewhere, or by someone who knows
    # the password) cannot remove the second factor, and so cannot replace it with its own.
    secret = _enable(db, signed_in["account_id"])
    token = form_token(client, "/akun/totp")
    wrong_password = client.post(
        "/akun/totp/nonaktif",
        data={"password": "bukan-sandinya", "code": _code_for_step(secret, 1), "csrf_token": token},
    )
    assert wrong_password.status_code == 401
    password_only = client.post(
        "/akun/totp/nonaktif", data={"password": signed_in["password"], "csrf_token": token}
    )
    assert password_only.status_code == 401
    wrong_code = client.post(
        "/akun/totp/nonaktif",
        data={"password": signed_in["password"], "code": "000000", "csrf_token": token},
    )
    assert wrong_code.status_code == 401
    db.expire_all()
    assert db.get(Account, signed_in["account_id"]).totp_secret is not None  # type: ignore[union-attr]
    ok = client.post(
        "/akun/totp/nonaktif",
        data={
            "password": signed_in["password"],
            "code": _code_for_step(secret, 1),
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    db.expire_all()
    assert db.get(Account, signed_in["account_id"]).totp_secret is None  # type: ignore[union-attr]


def _setup_form(client: TestClient) -> tuple[str, str, str]:
    page = client.get("/akun/totp")
    assert page.status_code == 200, page.text
    secret = re.search(r'<code id="totp-key">([A-Z2-7 ]+)</code>', page.text).group(1)  # type: ignore[union-attr]
    sealed = re.search(r'name="sealed" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return secret.replace(" ", ""), sealed, page.text


def _age_sign_in(db: Session, account_id: str, minutes: int) -> None:
    db.execute(
        update(LoginSession)
        .where(LoginSession.account_id == account_id)
        .values(auth_time=utcnow() - timedelta(minutes=minutes))
    )
    db.commit()


def test_enrolling_long_after_sign_in_needs_the_password_again(
    client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    assert 'name="password"' not in _setup_form(client)[2]  # a fresh sign-in is enough
    _age_sign_in(db, signed_in["account_id"], minutes=6)
    secret, sealed, html = _setup_form(client)
    assert 'name="password"' in html
    form = {"sealed": sealed, "code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(html)}
    missing = client.post("/akun/totp", data=form)
    assert missing.status_code == 401 and 'name="password"' in missing.text
    wrong = client.post("/akun/totp", data={**form, "password": "bukan-sandinya"})
    assert wrong.status_code == 401
    db.expire_all()
    assert db.get(Account, signed_in["account_id"]).totp_secret is None  # type: ignore[union-attr]
    ok = client.post(
        "/akun/totp", data={**form, "password": signed_in["password"]}, follow_redirects=False
    )
    assert ok.status_code == 303, ok.text
    db.expire_all()
    assert db.get(Account, signed_in["account_id"]).totp_secret is not None  # type: ignore[union-attr]


def test_the_window_is_checked_when_the_form_is_sent(
    client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    secret, sealed, html = _setup_form(client)  # shown while the sign-in was fresh
    _age_sign_in(db, signed_in["account_id"], minutes=6)
    late = client.post(
        "/akun/totp",
        data={"sealed": sealed, "code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(html)},
    )
    assert late.status_code == 401 and 'name="password"' in late.text


def test_password_guessing_on_the_enrolment_form_locks_out(
    client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    _age_sign_in(db, signed_in["account_id"], minutes=30)
    secret, sealed, html = _setup_form(client)
    form = {"sealed": sealed, "code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(html)}
    for _ in range(accounts.NIK_FREE_FAILURES):
        assert client.post("/akun/totp", data={**form, "password": "tebakan-1"}).status_code == 401
    locked = client.post("/akun/totp", data={**form, "password": signed_in["password"]})
    assert locked.status_code == 429
    db.expire_all()
    assert db.get(Account, signed_in["account_id"]).totp_secret is None  # type: ignore[union-attr]


def test_enrolling_never_replaces_an_existing_totp(
    client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    secret, sealed, html = _setup_form(client)  # a form from before TOTP was turned on
    own = _enable(db, signed_in["account_id"])
    response = client.post(
        "/akun/totp",
        data={"sealed": sealed, "code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(html)},
    )
    assert response.status_code == 409
    db.expire_all()
    stored = db.get(Account, signed_in["account_id"]).totp_secret  # type: ignore[union-attr]
    assert stored is not None and totp.unseal_secret(stored) == own
    with pytest.raises(accounts.AccountError):
        totp.enable_totp(
            session=db,
            account_id=signed_in["account_id"],
            secret=secret,
            code=pyotp.TOTP(secret).now(),
        )


def test_pending_totp_session_is_not_a_login(
    client: TestClient, account: dict[str, str], db: Session
) -> None:
    _enable(db, account["account_id"])
    sign_in(client, account["nik"])
    assert not is_signed_in(client)
    assert sessions.list_sessions(session=db, account_id=account["account_id"]) == []


def test_secret_is_encrypted_at_rest(db: Session, account: dict[str, str]) -> None:
    secret = _enable(db, account["account_id"])
    stored = db.get(Account, account["account_id"]).totp_secret  # type: ignore[union-attr]
    assert stored and stored.startswith("v1:") and secret not in stored
    assert totp.unseal_secret(stored) == secret
    assert totp.seal_secret(secret) != stored  # fresh nonce every time
