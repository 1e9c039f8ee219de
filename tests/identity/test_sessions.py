"""Browser sessions: server-side, listable, revocable, expiring, hardened cookies."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.identity import service
from satu.identity.models import LoginSession
from tests.identity.conftest import form_token, is_signed_in, sign_in


def _rows(db: Session, account_id: str) -> list[LoginSession]:
    db.expire_all()
    return list(db.scalars(select(LoginSession).where(LoginSession.account_id == account_id)))


def test_cookie_is_not_stored_in_the_database(
    client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    cookie = client.cookies.get("satu_session")
    assert cookie
    (row,) = _rows(db, signed_in["account_id"])
    assert row.token_hash == hashlib.sha256(cookie.encode()).hexdigest()
    assert cookie not in row.token_hash


def test_sessions_are_listed_and_one_can_be_revoked(
    app: FastAPI, client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    with TestClient(app) as other:
        assert sign_in(other, signed_in["nik"]).status_code == 303
        page = client.get("/akun/sesi")
        assert page.status_code == 200
        listed = service.list_sessions(session=db, account_id=signed_in["account_id"])
        assert len(listed) == 2
        other_id = next(
            s.id
            for s in listed
            if s.id != _current_id(db, client.cookies.get("satu_session") or "")
        )
        token = form_token(client, "/akun/sesi")
        revoked = client.post(
            f"/akun/sesi/{other_id}/cabut", data={"csrf_token": token}, follow_redirects=False
        )
        assert revoked.status_code == 303
        assert not is_signed_in(other)
        assert is_signed_in(client)
        missing = client.post("/akun/sesi/nope/cabut", data={"csrf_token": token})
        assert missing.status_code == 404


def _current_id(db: Session, cookie: str) -> str:
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    return db.scalar(select(LoginSession.id).where(LoginSession.token_hash == digest)) or ""


def test_cannot_revoke_someone_elses_session(
    app: FastAPI, client: TestClient, signed_in: dict[str, str], db: Session, new_resident
) -> None:  # type: ignore[no-untyped-def]
    stranger = new_resident()
    service.create_account(session=db, nik=stranger.nik, password="sandi-orang-lain-1")
    db.commit()
    with TestClient(app) as other:
        sign_in(other, stranger.nik, "sandi-orang-lain-1")
        their_id = _current_id(db, other.cookies.get("satu_session") or "")
        response = client.post(
            f"/akun/sesi/{their_id}/cabut", data={"csrf_token": form_token(client, "/akun/sesi")}
        )
        assert response.status_code == 404
        assert is_signed_in(other)


def test_revoke_all_others(app: FastAPI, client: TestClient, signed_in: dict[str, str]) -> None:
    with TestClient(app) as a, TestClient(app) as b:
        sign_in(a, signed_in["nik"])
        sign_in(b, signed_in["nik"])
        client.post(
            "/akun/sesi/cabut-lainnya", data={"csrf_token": form_token(client, "/akun/sesi")}
        )
        assert not is_signed_in(a)
        assert not is_signed_in(b)
        assert is_signed_in(client)


def test_logout_needs_a_post_and_ends_the_session(
    client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    assert client.get("/keluar").status_code == 200
    assert is_signed_in(client)  # GET alone signs nobody out
    token = form_token(client, "/keluar")
    out = client.post(
        "/keluar",
        data={"csrf_token": token, "next": "https://evil.example"},
        follow_redirects=False,
    )
    assert out.status_code == 303
    assert out.headers["location"] == "/"
    assert (
        'satu_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    )
    assert all(r.revoked_at is not None for r in _rows(db, signed_in["account_id"]))


def test_idle_and_expired_sessions_are_refused(
    client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    (row,) = _rows(db, signed_in["account_id"])
    row.last_seen_at = utcnow() - timedelta(hours=3)
    db.commit()
    assert not is_signed_in(client)
    row.last_seen_at = utcnow()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    assert not is_signed_in(client)


def test_https_uses_host_prefixed_secure_cookies(app: FastAPI, account: dict[str, str]) -> None:
    with TestClient(app, base_url="https://testserver") as secure:
        response = sign_in(secure, account["nik"])
        assert response.status_code == 303
        cookies = response.headers.get_list("set-cookie")
        session_cookie = next(c for c in cookies if c.startswith("__Host-satu_session="))
        assert "Secure" in session_cookie and "Path=/" in session_cookie
        assert "Domain" not in session_cookie
        assert is_signed_in(secure)


def test_unauthenticated_api_style_request_gets_401(client: TestClient) -> None:
    response = client.get("/akun", headers={"accept": "application/json"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_page_request_is_sent_to_sign_in_with_next(client: TestClient) -> None:
    response = client.get("/akun/sesi", headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/masuk?next=%2Fakun%2Fsesi"
