"""The authorization endpoint: request validation, sign-in, step-up, consent, codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from satu.core.db import utcnow
from satu.identity.oidc.models import AuthorizationCode, Consent
from tests.identity.oidc.support import (
    REDIRECT,
    approve,
    authorize_params,
    get_code,
    hidden_fields,
    pkce,
    query_of,
)


def _authorize(client, params):
    return client.get("/authorize", params=params, follow_redirects=False)


def _redirected_error(response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return query_of(location)


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "no-such-client"},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": REDIRECT + "/extra"},
        {"redirect_uri": REDIRECT + "?x=1"},
        {"redirect_uri": ""},
        {"request": "eyJhbGciOiJub25lIn0.e30."},
    ],
    ids=["unknown-client", "foreign-uri", "longer-path", "extra-query", "missing", "jar"],
)
def test_unverifiable_requests_are_shown_never_redirected(client, rp, change) -> None:
    _, challenge = pkce()
    params = authorize_params(rp.client_id, challenge)
    params.update(change)
    response = _authorize(client, params)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "evil.example" not in response.text or "redirect_uri" in response.text


def test_repeated_parameters_are_refused(client, rp) -> None:
    _, challenge = pkce()
    params = [*list(authorize_params(rp.client_id, challenge).items()), ("scope", "openid nik")]
    response = client.get("/authorize", params=params, follow_redirects=False)
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"scope": "openid add_oidc_client"}, "invalid_scope"),
        ({"scope": "openid email"}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
    ],
)
def test_bad_requests_go_back_with_an_oauth_error(client, rp, change, error) -> None:
    _, challenge = pkce()
    params = authorize_params(rp.client_id, challenge)
    for key, value in change.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    values = _redirected_error(_authorize(client, params))
    assert values["error"] == error
    assert values["state"] == params["state"]
    assert values["iss"] == "http://127.0.0.1:8000"


def test_not_signed_in_goes_to_the_sign_in_page_and_back(client, account, rp) -> None:
    _, challenge = pkce()
    params = authorize_params(rp.client_id, challenge)
    response = _authorize(client, params)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/masuk?")
    next_url = query_of(location)["next"]
    assert next_url.startswith("/authorize?")
    from tests.identity.oidc.support import csrf_of

    page = client.get(location)
    login = client.post(
        "/masuk",
        data={
            "nik": account["nik"],
            "password": account["password"],
            "next": next_url,
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert login.status_code == 303 and login.headers["location"] == next_url
    consent = client.get(next_url, follow_redirects=False)
    assert consent.status_code == 200
    assert "Layanan Uji" in consent.text and "Direktorat Jenderal" in consent.text
    done = approve(client, consent)
    values = query_of(done.headers["location"])
    assert values["state"] == params["state"] and values["code"]


def test_prompt_none_without_sign_in_is_login_required(client, rp) -> None:
    _, challenge = pkce()
    values = _redirected_error(
        _authorize(client, authorize_params(rp.client_id, challenge, prompt="none"))
    )
    assert values["error"] == "login_required"


def test_consent_is_asked_once_and_remembered(client, signed_in, rp, db) -> None:
    _, challenge = pkce()
    first = _authorize(client, authorize_params(rp.client_id, challenge))
    assert first.status_code == 200
    assert "Nama lengkap Anda" in first.text  # Indonesian by default
    approve(client, first)
    again = _authorize(client, authorize_params(rp.client_id, challenge))
    assert again.status_code == 303 and "code=" in again.headers["location"]
    more = _authorize(client, authorize_params(rp.client_id, challenge, scope="openid nik"))
    assert more.status_code == 200, "a new scope needs a new consent"
    assert "NIK" in more.text
    forced = _authorize(client, authorize_params(rp.client_id, challenge, prompt="consent"))
    assert forced.status_code == 200
    none = _authorize(
        client, authorize_params(rp.client_id, challenge, scope="openid address", prompt="none")
    )
    assert _redirected_error(none)["error"] == "consent_required"
    rows = db.scalars(select(Consent).where(Consent.client_id == rp.client_id)).all()
    assert len([r for r in rows if r.withdrawn_at is None]) == 1


def test_the_data_usage_scope_is_asked_for_in_bold(client, signed_in, register) -> None:
    app = register(scopes=["openid", "data_usage"])
    _, challenge = pkce()
    page = _authorize(client, authorize_params(app.client_id, challenge, scope="openid data_usage"))
    assert page.status_code == 200, page.text
    assert (
        "<strong>Jejak data Anda: instansi mana yang menerima data Anda, kapan, dan untuk tujuan "
        "apa</strong>" in page.text
    )


def test_declining_consent_returns_access_denied(client, signed_in, rp) -> None:
    _, challenge = pkce()
    page = _authorize(client, authorize_params(rp.client_id, challenge))
    fields = hidden_fields(page.text)
    fields["decision"] = "deny"
    response = client.post("/authorize/consent", data=fields, follow_redirects=False)
    assert _redirected_error(response)["error"] == "access_denied"


def test_consent_form_needs_a_csrf_token(client, signed_in, rp) -> None:
    _, challenge = pkce()
    page = _authorize(client, authorize_params(rp.client_id, challenge))
    fields = hidden_fields(page.text)
    fields.pop("csrf_token")
    fields["decision"] = "allow"
    response = client.post("/authorize/consent", data=fields, follow_redirects=False)
    assert response.status_code == 403
    fields["csrf_token"] = "forged"
    assert client.post("/authorize/consent", data=fields).status_code == 403


def test_consent_form_cannot_swap_the_redirect_uri(client, signed_in, rp) -> None:
    _, challenge = pkce()
    page = _authorize(client, authorize_params(rp.client_id, challenge))
    fields = hidden_fields(page.text)
    fields["redirect_uri"] = "https://evil.example/cb"
    fields["decision"] = "allow"
    response = client.post("/authorize/consent", data=fields, follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers


def test_step_up_sends_a_password_session_to_the_totp_step(client, signed_in, rp) -> None:
    _, challenge = pkce()
    params = authorize_params(rp.client_id, challenge, acr_values="urn:satu:acr:pwd-totp")
    response = _authorize(client, params)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/masuk?")
    assert query_of(location)["acr"] == "urn:satu:acr:pwd-totp"
    none = _authorize(client, {**params, "prompt": "none"})
    assert _redirected_error(none)["error"] == "interaction_required"


def test_client_floor_acr_is_enforced_without_acr_values(client, signed_in, register) -> None:
    rp = register(acr_values=["urn:satu:acr:pwd-totp"])
    _, challenge = pkce()
    response = _authorize(client, authorize_params(rp.client_id, challenge))
    assert query_of(response.headers["location"])["acr"] == "urn:satu:acr:pwd-totp"


def test_prompt_login_and_max_age_force_a_fresh_sign_in(client, signed_in, rp) -> None:
    _, challenge = pkce()
    response = _authorize(client, authorize_params(rp.client_id, challenge, prompt="login"))
    location = response.headers["location"]
    assert location.startswith("/masuk?") and query_of(location)["prompt"] == "login"
    response = _authorize(client, authorize_params(rp.client_id, challenge, max_age="0"))
    assert response.headers["location"].startswith("/masuk?")


def test_fresh_sign_in_marker_satisfies_prompt_login(client, account, rp) -> None:
    from tests.identity.oidc.support import csrf_of

    _, challenge = pkce()
    response = _authorize(client, authorize_params(rp.client_id, challenge, prompt="login"))
    location = response.headers["location"]
    next_url = query_of(location)["next"]
    page = client.get(location)
    client.post(
        "/masuk",
        data={
            "nik": account["nik"],
            "password": account["password"],
            "next": next_url,
            "csrf_token": csrf_of(page.text),
        },
    )
    back = client.get(next_url, follow_redirects=False)
    assert back.status_code == 200, "consent page, not another sign-in"


def test_forged_fresh_marker_does_not_skip_reauthentication(client, signed_in, rp) -> None:
    _, challenge = pkce()
    params = authorize_params(rp.client_id, challenge, prompt="login", _login_after="1.forged")
    response = _authorize(client, params)
    assert response.headers["location"].startswith("/masuk?")


def test_codes_are_stored_hashed_and_expire(client, signed_in, rp, db) -> None:
    verifier, challenge = pkce()
    params = authorize_params(rp.client_id, challenge)
    code = get_code(client, params)
    rows = db.scalars(select(AuthorizationCode)).all()
    assert all(row.code_hash != code for row in rows)
    row = rows[-1]
    assert timedelta(seconds=55) < row.expires_at - utcnow() <= timedelta(seconds=60)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            **rp.auth(),
        },
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
