"""CSRF protection on every form: signed double-submit token plus Origin check."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from satu.core import csrf
from tests.identity.conftest import PASSWORD, form_token

FORMS = [
    "/masuk",
    "/masuk/totp",
    "/keluar",
    "/aktivasi",
    "/aktivasi/kode",
    "/lupa-sandi",
    "/lupa-sandi/kode",
    "/akun/totp",
    "/akun/totp/nonaktif",
    "/akun/sandi",
    "/akun/sesi/cabut-lainnya",
    "/petugas",
]


@pytest.mark.parametrize("path", FORMS)
def test_every_form_refuses_a_post_without_token(client: TestClient, path: str) -> None:
    form_token(client, "/masuk")  # the browser has a CSRF cookie, the attacker has no token
    response = client.post(path, data={"nik": "3273011708900001"})
    assert response.status_code == 403, response.text


def test_token_signed_for_another_browser_is_refused(
    app: FastAPI, client: TestClient, account: dict[str, str]
) -> None:
    with TestClient(app) as attacker:
        stolen = form_token(attacker, "/masuk")
    form_token(client, "/masuk")
    response = client.post(
        "/masuk", data={"nik": account["nik"], "password": PASSWORD, "csrf_token": stolen}
    )
    assert response.status_code == 403


def test_tampered_token_is_refused(client: TestClient, account: dict[str, str]) -> None:
    token = form_token(client, "/masuk")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = client.post(
        "/masuk", data={"nik": account["nik"], "password": PASSWORD, "csrf_token": tampered}
    )
    assert response.status_code == 403


def test_cross_origin_post_is_refused_even_with_a_token(
    client: TestClient, account: dict[str, str]
) -> None:
    token = form_token(client, "/masuk")
    data = {"nik": account["nik"], "password": PASSWORD, "csrf_token": token}
    assert (
        client.post("/masuk", data=data, headers={"origin": "https://evil.example"}).status_code
        == 403
    )
    assert client.post("/masuk", data=data, headers={"origin": "null"}).status_code == 403
    same = client.post(
        "/masuk", data=data, headers={"origin": "http://testserver"}, follow_redirects=False
    )
    assert same.status_code == 303


def test_expired_token_is_refused(
    client: TestClient, account: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = form_token(client, "/masuk")
    monkeypatch.setattr(csrf, "MAX_AGE_SECONDS", -1)
    response = client.post(
        "/masuk", data={"nik": account["nik"], "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 403


def test_cookie_is_set_once_and_hardened(client: TestClient) -> None:
    first = client.get("/masuk")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("satu_csrf=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    second = client.get("/masuk")
    assert "satu_csrf=" not in second.headers.get("set-cookie", "")


def test_https_cookie_is_host_prefixed(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as secure:
        cookie = secure.get("/masuk").headers["set-cookie"]
        assert cookie.startswith("__Host-satu_csrf=") and "Secure" in cookie


def test_header_token_works_for_scripts(client: TestClient, account: dict[str, str]) -> None:
    token = form_token(client, "/masuk")
    response = client.post(
        "/masuk",
        data={"nik": account["nik"], "password": PASSWORD},
        headers={"x-csrf-token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
