"""Accounts: sign-in, no user enumeration, brute-force throttling, activation, reset."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.core.notify import outbox_for
from satu.identity import accounts, service
from satu.identity.models import LoginSession, Throttle
from tests.identity.conftest import PASSWORD, csrf_of, form_token, is_signed_in, make_nik, sign_in

_CODE = re.compile(r"\b(\d{6})\b")


def _latest_code(db: Session, recipient: str) -> str:
    messages = outbox_for(session=db, recipient=recipient)
    assert messages, "no message was sent"
    found = _CODE.search(messages[0].body)
    assert found
    return found.group(1)


def _error_text(html: str) -> str:
    found = re.search(r'<p class="error-text">(.*?)</p>', html, re.S)
    return found.group(1) if found else ""


def test_sign_in_sets_a_hardened_session_cookie_and_redirects(
    client: TestClient, account: dict[str, str]
) -> None:
    response = sign_in(client, account["nik"], next_url="/akun/sesi")
    assert response.status_code == 303
    assert response.headers["location"] == "/akun/sesi"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("satu_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = client.get("/akun")
    assert page.status_code == 200
    assert account["nik"] in page.text


def test_wrong_password_and_unknown_nik_answer_identically(
    client: TestClient, account: dict[str, str]
) -> None:
    wrong = sign_in(client, account["nik"], "salah-sandi-sekali")
    unknown = sign_in(client, make_nik(date(1991, 1, 1), "M"), "salah-sandi-sekali")
    garbage = sign_in(client, "not-a-nik", "salah-sandi-sekali")
    assert wrong.status_code == unknown.status_code == garbage.status_code == 401
    assert _error_text(wrong.text) == _error_text(unknown.text) == _error_text(garbage.text)
    assert _error_text(wrong.text)


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil", "x"])
def test_next_cannot_redirect_off_site(
    client: TestClient, account: dict[str, str], target: str
) -> None:
    response = sign_in(client, account["nik"], next_url=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/akun"


def test_brute_force_locks_the_nik_even_for_the_right_password(
    client: TestClient, account: dict[str, str], db: Session
) -> None:
    for _ in range(accounts.NIK_FREE_FAILURES):
        assert sign_in(client, account["nik"], "tebakan-salah-123").status_code == 401
    locked = sign_in(client, account["nik"], PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
    # an unknown NIK locks exactly the same way: no enumeration through lockouts
    ghost = make_nik(date(1993, 3, 3), "M")
    for _ in range(accounts.NIK_FREE_FAILURES):
        assert sign_in(client, ghost, "tebakan-salah-123").status_code == 401
    ghost_locked = sign_in(client, ghost, "tebakan-salah-123")
    assert ghost_locked.status_code == 429
    assert _error_text(ghost_locked.text) == _error_text(locked.text)


def test_lockout_backs_off_exponentially(db: Session) -> None:
    key = accounts.nik_key("3273011708900099")
    durations = []
    for _ in range(accounts.NIK_FREE_FAILURES + 3):
        accounts.record_failure(session=db, keys=[key])
        row = db.get(Throttle, key)
        assert row is not None
        if row.locked_until is not None:
            durations.append(round((row.locked_until - row.last_failure_at).total_seconds()))
    assert durations == [30, 60, 120, 240]
    accounts.clear_failures(session=db, key=key)
    assert accounts.locked_for(session=db, keys=[key]) == 0


def test_per_ip_throttle_stops_spraying_many_niks(db: Session) -> None:
    ip = "203.0.113.9"
    for n in range(accounts.IP_FREE_FAILURES):
        with pytest.raises(accounts.AccountError) as caught:
            accounts.check_password(
                session=db, nik=make_nik(date(1980, 1, 1), "M", serial=n + 1), password="x", ip=ip
            )
        assert caught.value.message == accounts.INVALID_LOGIN
    with pytest.raises(accounts.AccountError) as caught:
        accounts.check_password(session=db, nik="3273010101800999", password="x", ip=ip)
    assert caught.value.message == accounts.LOCKED


def test_successful_password_sign_in_clears_the_nik_counter(
    client: TestClient, account: dict[str, str], db: Session
) -> None:
    for _ in range(accounts.NIK_FREE_FAILURES - 1):
        sign_in(client, account["nik"], "tebakan-salah-123")
    assert sign_in(client, account["nik"]).status_code == 303
    db.expire_all()
    row = db.get(Throttle, accounts.nik_key(account["nik"]))
    assert row is not None and row.failures == 0


def test_disabled_account_cannot_sign_in(
    client: TestClient, account: dict[str, str], db: Session
) -> None:
    service.set_account_status(
        session=db, account_id=account["account_id"], status="disabled", actor="test"
    )
    db.commit()
    assert sign_in(client, account["nik"]).status_code == 401


def _activate_start(client: TestClient, nik: str, name: str, born: str):  # type: ignore[no-untyped-def]
    token = form_token(client, "/aktivasi")
    return client.post(
        "/aktivasi",
        data={"nik": nik, "full_name": name, "birth_date": born, "csrf_token": token},
    )


def test_activation_checks_data_then_contact_code(
    client: TestClient, db: Session, new_resident
) -> None:  # type: ignore[no-untyped-def]
    person = new_resident(full_name="Dewi Lestari", sex="F", birth_date=date(1995, 6, 7))
    db.commit()
    refused = _activate_start(client, person.nik, "Dewi Lestari", "1995-06-08")
    assert refused.status_code == 422
    unknown = _activate_start(client, make_nik(date(1995, 6, 7), "F"), "Dewi Lestari", "1995-06-07")
    assert _error_text(unknown.text) == _error_text(refused.text)
    bad_date = _activate_start(client, person.nik, "Dewi Lestari", "07/06/1995")
    assert bad_date.status_code == 422

    started = _activate_start(client, person.nik, "  dewi   LESTARI ", "1995-06-07")
    assert started.status_code == 200, started.text
    assert person.phone_masked in started.text
    resident_phone = db.execute(
        select(accounts.Resident.phone).where(accounts.Resident.nik == person.nik)
    ).scalar_one()
    code = _latest_code(db, resident_phone)
    wrong_code = "000000" if code != "000000" else "111111"

    def finish(code_value: str, password: str = "hujan-di-bulan-juni"):  # type: ignore[no-untyped-def]
        return client.post(
            "/aktivasi/kode",
            data={
                "nik": person.nik,
                "code": code_value,
                "password": password,
                "password_again": password,
                "csrf_token": csrf_of(started.text),
            },
        )

    assert finish(code, "pendek").status_code == 422  # weak password: code not spent
    assert finish(wrong_code).status_code == 422
    done = finish(code)
    assert done.status_code == 200, done.text
    assert service.account_for_nik(session=db, nik=person.nik) is not None
    assert finish(code).status_code == 422  # single use
    again = _activate_start(client, person.nik, "Dewi Lestari", "1995-06-07")
    assert again.status_code == 422
    assert sign_in(client, person.nik, "hujan-di-bulan-juni").status_code == 303


def test_activation_code_stops_working_after_too_many_wrong_tries(
    db: Session, new_resident
) -> None:  # type: ignore[no-untyped-def]
    person = new_resident(full_name="Agus Salim")
    accounts.start_activation(
        session=db, nik=person.nik, full_name="Agus Salim", birth_date=person.birth_date, ip="x"
    )
    phone = db.get(accounts.Resident, person.nik).phone  # type: ignore[union-attr]
    code = _latest_code(db, phone)
    for _ in range(accounts.CODE_MAX_ATTEMPTS):
        with pytest.raises(accounts.AccountError):
            accounts.complete_activation(
                session=db,
                nik=person.nik,
                code="999999" if code != "999999" else "888888",
                password="hujan-di-bulan-juni",
                ip="y",
            )
    with pytest.raises(accounts.AccountError):
        accounts.complete_activation(
            session=db, nik=person.nik, code=code, password="hujan-di-bulan-juni", ip="z"
        )


def test_deceased_resident_cannot_activate(db: Session, new_resident) -> None:  # type: ignore[no-untyped-def]
    person = new_resident(full_name="Joko Widodo")
    service.record_death(session=db, nik=person.nik, died_on=date(2024, 2, 2), actor="test")
    with pytest.raises(accounts.AccountError):
        accounts.start_activation(
            session=db,
            nik=person.nik,
            full_name="Joko Widodo",
            birth_date=person.birth_date,
            ip=None,
        )


def test_expired_activation_code_is_refused(db: Session, new_resident) -> None:  # type: ignore[no-untyped-def]
    person = new_resident(full_name="Rina Wati", sex="F")
    accounts.start_activation(
        session=db, nik=person.nik, full_name="Rina Wati", birth_date=person.birth_date, ip=None
    )
    code = _latest_code(db, db.get(accounts.Resident, person.nik).phone)  # type: ignore[union-attr]
    for row in db.scalars(select(accounts.VerificationCode)):
        row.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    with pytest.raises(accounts.AccountError):
        accounts.complete_activation(
            session=db, nik=person.nik, code=code, password="hujan-di-bulan-juni", ip=None
        )


def test_password_reset_does_not_reveal_accounts_and_signs_out_everywhere(
    client: TestClient, account: dict[str, str], db: Session
) -> None:
    assert sign_in(client, account["nik"]).status_code == 303

    def ask(nik: str):  # type: ignore[no-untyped-def]
        return client.post(
            "/lupa-sandi", data={"nik": nik, "csrf_token": form_token(client, "/lupa-sandi")}
        )

    known = ask(account["nik"])
    unknown = ask(make_nik(date(1999, 9, 9), "M"))
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", known.text) == strip.sub("", unknown.text)
    phone = db.get(accounts.Resident, account["nik"]).phone  # type: ignore[union-attr]
    code = _latest_code(db, phone)
    done = client.post(
        "/lupa-sandi/kode",
        data={
            "nik": account["nik"],
            "code": code,
            "password": "sandi-baru-yang-panjang",
            "password_again": "sandi-baru-yang-panjang",
            "csrf_token": form_token(client, "/lupa-sandi"),
        },
    )
    assert done.status_code == 200, done.text
    db.expire_all()
    live = db.scalars(
        select(LoginSession).where(
            LoginSession.account_id == account["account_id"], LoginSession.revoked_at.is_(None)
        )
    ).all()
    assert live == []
    assert not is_signed_in(client)
    assert sign_in(client, account["nik"], PASSWORD).status_code == 401
    assert sign_in(client, account["nik"], "sandi-baru-yang-panjang").status_code == 303


def test_change_password_needs_the_current_one(
    client: TestClient, signed_in: dict[str, str]
) -> None:
    token = form_token(client, "/akun/sandi")
    wrong = client.post(
        "/akun/sandi",
        data={
            "current_password": "bukan-ini-sandinya",
            "password": "sandi-baru-yang-panjang",
            "password_again": "sandi-baru-yang-panjang",
            "csrf_token": token,
        },
    )
    assert wrong.status_code == 422
    ok = client.post(
        "/akun/sandi",
        data={
            "current_password": PASSWORD,
            "password": "sandi-baru-yang-panjang",
            "password_again": "sandi-baru-yang-panjang",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert is_signed_in(client)  # this session stays signed in
