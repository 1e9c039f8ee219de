"""The GovStack-shaped client management API, RP-initiated logout and the consents page."""

from __future__ import annotations

import pytest

from satu.identity import service as identity
from satu.identity.oidc.clients import get_client
from tests.identity.oidc.support import (
    AGENCY,
    OTHER_AGENCY,
    csrf_of,
    decode_unverified,
    hidden_fields,
    new_key,
    query_of,
)

LOGOUT_TO = "https://layanan.example.go.id/keluar"


# What the management system may hand out through the API (beside its management scopes).
DELEGABLE = ["openid", "profile", "birthdate", "age_over_18"]


@pytest.fixture
def admin_token(client, register):
    def make(scope: str, agency: str = AGENCY) -> str:
        system = register(
            grant_types=["client_credentials"],
            redirect_uris=[],
            scopes=["add_oidc_client", "update_oidc_client", *DELEGABLE],
            agency_id=agency,
        )
        response = client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": scope, **system.auth()},
        )
        return response.json()["access_token"]

    return make


def _body(client_id: str = "e-health-service", **changes):
    key = new_key()
    request = {
        "clientId": client_id,
        "clientName": "Layanan Kesehatan",
        "relyingPartyId": AGENCY,
        "logoUri": "https://example.go.id/logo.png",
        "redirectUris": ["https://example.go.id/login-success"],
        "publicKey": key.as_dict(private=False),
        "authContextRefs": ["idbb:acr:generated-code"],
        "userClaims": ["name", "birthdate"],
        "grantTypes": ["authorization_code"],
        "clientAuthMethods": ["private_key_jwt"],
    }
    request.update(changes)
    return {"requestTime": "2026-11-29T02:00:00.000Z", "request": request}


def test_bearer_calls_need_no_csrf_token_even_beside_a_session(
    client, signed_in, admin_token
) -> None:
    """The token authenticates, not the browser's cookie: no X-CSRF-Token, any Origin."""
    token = admin_token("add_oidc_client")
    assert client.cookies.get("satu_session"), "the client also carries a signed-in session"
    response = client.post(
        "/client-mgmt/oidc-client",
        json=_body("csrf-free-client"),
        headers={"Authorization": f"Bearer {token}", "Origin": "https://elsewhere.example"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["response"] == {"clientId": "csrf-free-client"}


def test_create_and_update_a_client(client, db, admin_token) -> None:
    token = admin_token("add_oidc_client")
    response = client.post(
        "/client-mgmt/oidc-client", json=_body(), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["response"] == {"clientId": "e-health-service"}
    assert response.json()["errors"] == []
    stored = get_client(session=db, client_id="e-health-service")
    assert stored.scopes == ["openid", "profile", "birthdate"]
    assert stored.acr_values == ["urn:satu:acr:pwd-totp"]
    assert stored.auth_method == "private_key_jwt" and stored.jwks["keys"][0]["kty"] == "EC"
    duplicate = client.post(
        "/client-mgmt/oidc-client", json=_body(), headers={"Authorization": f"Bearer {token}"}
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["errorCode"] == "duplicate_client_id"

    update = _body()
    update["request"].pop("clientId")
    update["request"].pop("publicKey")
    update["request"]["status"] = "inactive"
    update["request"]["clientName"] = "Layanan Kesehatan Baru"
    forbidden = client.put(
        "/client-mgmt/oidc-client/e-health-service",
        json=update,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert forbidden.status_code == 403, "add_oidc_client does not allow updates"
    token = admin_token("update_oidc_client")
    updated = client.put(
        "/client-mgmt/oidc-client/e-health-service",
        json=update,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert updated.status_code == 200, updated.text
    stored = get_client(session=db, client_id="e-health-service")
    assert stored.status == "inactive" and stored.name == "Layanan Kesehatan Baru"
    assert stored.jwks is not None, "the key stays"
    missing = client.put(
        "/client-mgmt/oidc-client/nope", json=update, headers={"Authorization": f"Bearer {token}"}
    )
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"redirectUris": ["http://example.go.id/cb"]}, "invalid_redirect_uri"),
        (
            {"publicKey": {"kty": "EC", "crv": "P-256", "x": "bad", "y": "bad"}},
            "invalid_public_key",
        ),
        ({"userClaims": ["email"]}, "invalid_claim"),
        ({"authContextRefs": ["idbb:acr:biometrics"]}, "invalid_acr"),
        ({"clientAuthMethods": ["client_secret_post"]}, "invalid_client_auth"),
        ({"relyingPartyId": "no-such-agency"}, "invalid_rp_id"),
        ({"clientName": ""}, "invalid_client_name"),
        ({"clientId": ""}, "invalid_client_id"),
        ({"grantTypes": ["implicit"]}, "invalid_grant_type"),
    ],
)
def test_bad_registrations_get_govstack_error_codes(client, admin_token, changes, code) -> None:
    token = admin_token("add_oidc_client")
    response = client.post(
        "/client-mgmt/oidc-client",
        json=_body(**changes),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["errorCode"] == code


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "changes",
    [
        {"scopes": ["add_oidc_client"], "grantTypes": ["client_credentials"], "redirectUris": []},
        {
            "scopes": ["openid", "update_oidc_client"],
            "grantTypes": ["client_credentials", "authorization_code"],
        },
        {"userClaims": ["name", "nik"]},
        {"scopes": ["openid", "nik"]},
        {"scopes": ["openid", "data_usage"]},  # operator-only, like nik
        # Ordinary, but more than the managing client itself holds.
        {"userClaims": ["address"]},
        {"scopes": ["openid", "offline_access"]},
    ],
)
def test_api_cannot_grant_operator_scopes_or_more_than_it_holds(
    client, db, admin_token, changes
) -> None:
    token = admin_token("add_oidc_client")
    response = client.post("/client-mgmt/oidc-client", json=_body(**changes), headers=_auth(token))
    assert response.status_code == 403, response.text
    error = response.json()["errors"][0]
    assert error["errorCode"] == "invalid_claim" and error["errorMessage"]
    assert get_client(session=db, client_id="e-health-service") is None


def test_api_grants_what_it_holds(client, db, admin_token) -> None:
    token = admin_token("add_oidc_client")
    response = client.post(
        "/client-mgmt/oidc-client",
        json=_body(userClaims=["name", "birthdate", "age_over_18"]),
        headers=_auth(token),
    )
    assert response.status_code == 200, response.text
    stored = get_client(session=db, client_id="e-health-service")
    assert stored.scopes == ["openid", "profile", "birthdate", "age_over_18"]


def test_api_registers_clients_only_for_its_own_agency(client, db, admin_token) -> None:
    token = admin_token("add_oidc_client")
    for field in ("relyingPartyId", "agencyId"):
        response = client.post(
            "/client-mgmt/oidc-client", json=_body(**{field: OTHER_AGENCY}), headers=_auth(token)
        )
        assert response.status_code == 403, response.text
        assert response.json()["errors"][0]["errorCode"] == "invalid_rp_id"
    assert get_client(session=db, client_id="e-health-service") is None


def _update_body(**changes):
    body = _body(**changes)
    body["request"].pop("clientId")
    body["request"].pop("publicKey")
    return body


def test_update_of_another_agencys_client_looks_missing(client, db, register, admin_token) -> None:
    theirs = register(agency_id=OTHER_AGENCY, scopes=["openid", "profile"])
    token = admin_token("update_oidc_client")
    attempt = client.put(
        f"/client-mgmt/oidc-client/{theirs.client_id}",
        json=_update_body(relyingPartyId=OTHER_AGENCY, redirectUris=["https://evil.example/cb"]),
        headers=_auth(token),
    )
    missing = client.put(
        "/client-mgmt/oidc-client/no-such-client",
        json=_update_body(relyingPartyId=OTHER_AGENCY),
        headers=_auth(token),
    )
    assert attempt.status_code == missing.status_code == 404
    assert attempt.json()["errors"] == missing.json()["errors"]
    stored = get_client(session=db, client_id=theirs.client_id)
    assert stored.redirect_uris == ["https://layanan.example.go.id/callback"]
    # Their own manager may update it.
    own = client.put(
        f"/client-mgmt/oidc-client/{theirs.client_id}",
        json=_update_body(relyingPartyId=OTHER_AGENCY),
        headers=_auth(admin_token("update_oidc_client", OTHER_AGENCY)),
    )
    assert own.status_code == 200, own.text


def test_update_cannot_move_a_client_to_another_agency(client, db, register, admin_token) -> None:
    ours = register(scopes=["openid", "profile"])
    response = client.put(
        f"/client-mgmt/oidc-client/{ours.client_id}",
        json=_update_body(relyingPartyId=OTHER_AGENCY),
        headers=_auth(admin_token("update_oidc_client")),
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["errorCode"] == "invalid_rp_id"
    assert get_client(session=db, client_id=ours.client_id).agency_id == AGENCY


def test_update_cannot_grant_nik_nor_touch_an_operator_client(
    client, db, register, admin_token
) -> None:
    token = admin_token("update_oidc_client")
    plain = register(scopes=["openid", "profile"])
    widened = client.put(
        f"/client-mgmt/oidc-client/{plain.client_id}",
        json=_update_body(userClaims=["name", "nik"]),
        headers=_auth(token),
    )
    assert widened.status_code == 403
    assert get_client(session=db, client_id=plain.client_id).scopes == ["openid", "profile"]
    operator_made = register(scopes=["openid", "profile", "nik"])
    changed = client.put(
        f"/client-mgmt/oidc-client/{operator_made.client_id}",
        json=_update_body(userClaims=["name"]),
        headers=_auth(token),
    )
    assert changed.status_code == 403
    assert "operator" in changed.json()["errors"][0]["errorMessage"]
    assert "nik" in get_client(session=db, client_id=operator_made.client_id).scopes
    # A management client cannot be re-keyed through the API either.
    manager = register(
        grant_types=["client_credentials"], redirect_uris=[], scopes=["update_oidc_client"]
    )
    rekey = client.put(
        f"/client-mgmt/oidc-client/{manager.client_id}",
        json=_body(grantTypes=["client_credentials"], redirectUris=[], scopes=[]),
        headers=_auth(token),
    )
    assert rekey.status_code == 403


def test_client_management_requires_an_admin_token(client, signed_in, rp, tokens_for) -> None:
    assert client.post("/client-mgmt/oidc-client", json=_body()).status_code == 401
    user_token = tokens_for(rp)["access_token"]
    response = client.post(
        "/client-mgmt/oidc-client", json=_body(), headers={"Authorization": f"Bearer {user_token}"}
    )
    assert response.status_code == 403
    assert (
        client.post(
            "/client-mgmt/oidc-client", content=b"{", headers={"Authorization": "Bearer x"}
        ).status_code
        == 401
    )


def test_malformed_json_is_a_400_not_a_500(client, admin_token) -> None:
    token = admin_token("add_oidc_client")
    for content in (b"{", b"[]", b'{"request": 5}'):
        response = client.post(
            "/client-mgmt/oidc-client",
            content=content,
            headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
        )
        assert response.status_code == 400, content


# --- RP-initiated logout ------------------------------------------------------------------------


def test_logout_with_id_token_hint_redirects_to_the_registered_uri(
    client, signed_in, rp, tokens_for
) -> None:
    body = tokens_for(rp, scope="openid profile")
    response = client.get(
        "/oidc/logout",
        params={
            "id_token_hint": body["id_token"],
            "post_logout_redirect_uri": LOGOUT_TO,
            "state": "bye",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == LOGOUT_TO + "?state=bye"
    assert (
        client.get("/akun", headers={"accept": "text/html"}, follow_redirects=False).status_code
        == 303
    ), "signed out"
    info = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 401, "online tokens of that session are revoked"


def test_logout_refuses_unregistered_redirects(client, signed_in, rp, tokens_for) -> None:
    body = tokens_for(rp)
    response = client.get(
        "/oidc/logout",
        params={
            "id_token_hint": body["id_token"],
            "post_logout_redirect_uri": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 400 and "location" not in response.headers
    bare = client.get(
        "/oidc/logout", params={"post_logout_redirect_uri": LOGOUT_TO}, follow_redirects=False
    )
    assert bare.status_code == 400


def test_logout_without_proof_asks_first(client, signed_in, rp) -> None:
    page = client.get(
        "/oidc/logout", params={"client_id": rp.client_id, "post_logout_redirect_uri": LOGOUT_TO}
    )
    assert page.status_code == 200 and "Keluar dari Satu?" in page.text
    assert (
        client.get("/akun", headers={"accept": "text/html"}, follow_redirects=False).status_code
        == 200
    ), "still signed in"
    fields = hidden_fields(page.text)
    response = client.post("/oidc/logout", data=fields, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith(LOGOUT_TO)
    assert (
        client.get("/akun", headers={"accept": "text/html"}, follow_redirects=False).status_code
        == 303
    )
    fields.pop("csrf_token")
    assert client.post("/oidc/logout", data=fields).status_code == 403


# --- consents page ------------------------------------------------------------------------------


def test_consents_page_lists_and_withdraws(client, signed_in, rp, tokens_for, db) -> None:
    body = tokens_for(rp, scope="openid profile offline_access")
    page = client.get("/akun/persetujuan")
    assert page.status_code == 200
    assert "Layanan Uji" in page.text and "Nama lengkap Anda" in page.text
    response = client.post(
        "/akun/persetujuan/cabut",
        data={"client_id": rp.client_id, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    after = client.get(response.headers["location"])
    assert "Persetujuan dicabut" in after.text and "Layanan Uji" not in after.text
    refreshed = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"], **rp.auth()},
    )
    assert refreshed.json()["error"] == "invalid_grant"
    events = identity.list_audit(session=db, action="oidc.consent.withdrawn")
    assert events and events[0].actor == f"account:{signed_in['account_id']}"
    again = client.post(
        "/akun/persetujuan/cabut",
        data={"client_id": rp.client_id, "csrf_token": csrf_of(page.text)},
    )
    assert again.status_code == 404


def test_consents_page_needs_sign_in(client) -> None:
    response = client.get(
        "/akun/persetujuan", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/masuk")


def test_every_step_is_audited(client, signed_in, rp, tokens_for, db) -> None:
    body = tokens_for(rp)
    actions = {e.action for e in identity.list_audit(session=db, limit=50)}
    assert {"oidc.consent.granted", "oidc.code.issued", "oidc.token.issued"} <= actions
    client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "redirect_uri": "x",
            "code_verifier": "x" * 43,
            **rp.auth(),
        },
    )
    refused = identity.list_audit(session=db, action="oidc.token.refused")
    assert refused and refused[0].detail["error"] == "invalid_grant"
    assert refused[0].ip
    sub = decode_unverified(body["id_token"])["sub"]
    assert all(sub not in str(e.detail) for e in identity.list_audit(session=db, limit=50))
    _ = query_of
