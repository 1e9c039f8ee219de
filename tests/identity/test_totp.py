"""TOTP: set-up, second step at sign-in, replay refusal, step-up, lockout."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from satu.identity import accounts, sessions, totp
from satu.identity.models import Account
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


def test_turning_totp_off_needs_the_password(
    client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    _enable(db, signed_in["account_id"])
    token = form_token(client, "/akun/totp")
    assert (
        client.post(
            "/akun/totp/nonaktif", data={"password": "bukan-sandinya", "csrf_token": token}
        ).status_code
        == 401
    )
    ok = client.post(
        "/akun/totp/nonaktif",
        data={"password": signed_in["password"], "csrf_token": token},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    db.expire_all()
    assert db.get(Account, signed_in["account_id"]).totp_secret is None  # type: ignore[union-attr]


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
