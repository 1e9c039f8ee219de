"""Identity pages: Indonesian first, English on request, forms without JavaScript."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.identity.conftest import sign_in

PUBLIC_PAGES = ["/masuk", "/aktivasi", "/lupa-sandi", "/keluar"]
ACCOUNT_PAGES = ["/akun", "/akun/totp", "/akun/sesi", "/akun/sandi", "/akun/aktivitas"]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_render_in_indonesian_and_english(client: TestClient, path: str) -> None:
    indonesian = client.get(path)
    assert indonesian.status_code == 200
    assert indonesian.headers["content-language"] == "id"
    assert indonesian.headers["cache-control"] == "no-store"
    assert 'name="csrf_token"' in indonesian.text
    assert "<script" not in indonesian.text
    english = client.get(path, params={"lang": "en"})
    assert english.headers["content-language"] == "en"
    assert english.text != indonesian.text


def test_sign_in_page_is_in_indonesian(client: TestClient) -> None:
    page = client.get("/masuk")
    assert "Masuk ke Satu" in page.text
    assert 'autocomplete="current-password"' in page.text
    assert 'for="f-nik"' in page.text and 'id="f-nik"' in page.text
    english = client.get("/masuk", params={"lang": "en"})
    assert "Sign in to Satu" in english.text


@pytest.mark.parametrize("path", ACCOUNT_PAGES)
def test_account_pages_need_sign_in_then_render(
    client: TestClient, account: dict[str, str], path: str
) -> None:
    away = client.get(path, headers={"accept": "text/html"}, follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"].startswith("/masuk?next=")
    sign_in(client, account["nik"])
    for lang in ("id", "en"):
        page = client.get(path, params={"lang": lang})
        assert page.status_code == 200, page.text
        assert "<script" not in page.text


def test_account_page_shows_register_data(client: TestClient, signed_in: dict[str, str]) -> None:
    page = client.get("/akun")
    assert "Budi Santoso" in page.text
    assert "Sukarasa" in page.text
    assert "Data saya di register kependudukan" in page.text


def test_failed_sign_in_keeps_nik_but_never_the_password(
    client: TestClient, account: dict[str, str]
) -> None:
    response = sign_in(client, account["nik"], "rahasia-yang-salah")
    assert response.status_code == 401
    assert f'value="{account["nik"]}"' in response.text
    assert "rahasia-yang-salah" not in response.text
    assert 'role="alert"' in response.text


def test_oversized_and_malformed_form_fields_are_refused_cleanly(client: TestClient) -> None:
    from tests.identity.conftest import form_token

    token = form_token(client)
    response = client.post("/masuk", data={"nik": "1" * 500, "password": "x", "csrf_token": token})
    assert response.status_code == 422
    response = client.post(
        "/aktivasi",
        data={"nik": "abc", "full_name": "X", "birth_date": "31-02-2000", "csrf_token": token},
    )
    assert response.status_code == 422
