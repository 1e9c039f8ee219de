"""The token endpoint and token lifecycle: code exchange, refresh rotation, revocation,
introspection, userinfo and pairwise subjects."""

from __future__ import annotations

from datetime import date

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from satu.core.db import utcnow
from satu.identity import service as identity
from tests.identity.oidc.support import (
    OTHER_AGENCY,
    REDIRECT,
    authorize_params,
    decode_unverified,
    get_code,
    pkce,
)


def _exchange(client, rp, code, verifier, **extra):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **rp.auth(),
    }
    data.update(extra)
    return client.post("/oauth/token", data=data)


def _refresh(client, rp, token):
    return client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token, **rp.auth()}
    )


def _userinfo(client, access_token):
    return client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access_token}"})


@pytest.fixture
def code_and_verifier(client, signed_in, rp):
    verifier, challenge = pkce()
    params = authorize_params(rp.client_id, challenge, scope="openid profile offline_access")
    return get_code(client, params), verifier


def test_id_token_verifies_against_the_jwks(client, signed_in, rp, tokens_for) -> None:
    body = tokens_for(rp)
    keyset = KeySet.import_key_set(client.get("/.well-known/jwks.json").json())
    token = jwt.decode(body["id_token"], keyset, algorithms=["ES256"])
    assert token.header["alg"] == "ES256"
    claims = token.claims
    assert claims["exp"] - claims["iat"] == 300
    assert claims["amr"] == ["pwd"] and claims["azp"] == rp.client_id
    assert "sid" in claims and "at_hash" in claims
    access = jwt.decode(body["access_token"], keyset, algorithms=["ES256"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["client_id"] == rp.client_id and access.claims["jti"]


@pytest.mark.parametrize(
    ("change", "error", "status"),
    [
        ({"code_verifier": "A" * 43}, "invalid_grant", 400),
        ({"code_verifier": "short"}, "invalid_grant", 400),
        ({"code_verifier": None}, "invalid_request", 400),
        ({"redirect_uri": REDIRECT + "x"}, "invalid_grant", 400),
        ({"code": "made-up"}, "invalid_grant", 400),
        ({"grant_type": "password"}, "unsupported_grant_type", 400),
        ({"grant_type": None}, "invalid_request", 400),
    ],
)
def test_bad_code_exchanges(client, rp, code_and_verifier, change, error, status) -> None:
    code, verifier = code_and_verifier
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **rp.auth(),
    }
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    response = client.post("/oauth/token", data=data)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


def test_a_code_for_another_client_is_invalid_grant(client, register, rp, code_and_verifier):
    other = register()
    code, verifier = code_and_verifier
    response = _exchange(client, other, code, verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert _exchange(client, rp, code, verifier).status_code == 200


def test_replayed_code_revokes_what_it_issued(client, rp, code_and_verifier) -> None:
    code, verifier = code_and_verifier
    first = _exchange(client, rp, code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert _userinfo(client, tokens["access_token"]).status_code == 200
    replay = _exchange(client, rp, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert _userinfo(client, tokens["access_token"]).status_code == 401
    assert _refresh(client, rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_refresh_rotates_and_reuse_revokes_the_family(client, rp, code_and_verifier) -> None:
    code, verifier = code_and_verifier
    tokens = _exchange(client, rp, code, verifier).json()
    first_refresh = tokens["refresh_token"]
    rotated = _refresh(client, rp, first_refresh)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first_refresh
    assert "id_token" in second
    assert _userinfo(client, second["access_token"]).status_code == 200
    reuse = _refresh(client, rp, first_refresh)
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert _refresh(client, rp, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert _userinfo(client, second["access_token"]).status_code == 401


def test_refresh_can_only_narrow_scope(client, rp, code_and_verifier) -> None:
    code, verifier = code_and_verifier
    tokens = _exchange(client, rp, code, verifier).json()
    wider = client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "scope": "openid nik",
            "refresh_token": tokens["refresh_token"],
            **rp.auth(),
        },
    )
    assert wider.json()["error"] == "invalid_scope"
    narrower = client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "scope": "openid",
            "refresh_token": tokens["refresh_token"],
            **rp.auth(),
        },
    )
    assert narrower.status_code == 200 and narrower.json()["scope"] == "openid"


def test_refresh_token_of_another_client_is_invalid(client, register, rp, code_and_verifier):
    code, verifier = code_and_verifier
    tokens = _exchange(client, rp, code, verifier).json()
    other = register()
    assert _refresh(client, other, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert _refresh(client, rp, tokens["refresh_token"]).status_code == 200


def test_no_refresh_token_without_offline_access(client, signed_in, rp, tokens_for) -> None:
    assert "refresh_token" not in tokens_for(rp, scope="openid profile")


def test_revocation_of_refresh_token_revokes_the_grant(client, rp, code_and_verifier) -> None:
    code, verifier = code_and_verifier
    tokens = _exchange(client, rp, code, verifier).json()
    response = client.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token", **rp.auth()},
    )
    assert response.status_code == 200
    assert _userinfo(client, tokens["access_token"]).status_code == 401
    assert _refresh(client, rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revocation_of_access_token_and_unknown_tokens(
    client, register, rp, code_and_verifier
) -> None:
    code, verifier = code_and_verifier
    tokens = _exchange(client, rp, code, verifier).json()
    other = register()
    stolen = client.post("/oauth/revoke", data={"token": tokens["access_token"], **other.auth()})
    assert stolen.status_code == 400 and stolen.json()["error"] == "unauthorized_client"
    assert _userinfo(client, tokens["access_token"]).status_code == 200
    own = client.post("/oauth/revoke", data={"token": tokens["access_token"], **rp.auth()})
    assert own.status_code == 200
    assert _userinfo(client, tokens["access_token"]).status_code == 401
    assert _refresh(client, rp, tokens["refresh_token"]).status_code == 200
    unknown = client.post("/oauth/revoke", data={"token": "nothing-like-a-token", **rp.auth()})
    assert unknown.status_code == 200
    odd_hint = client.post(
        "/oauth/revoke", data={"token": "x", "token_type_hint": "id_token", **rp.auth()}
    )
    assert odd_hint.json()["error"] == "unsupported_token_type"
    unauthenticated = client.post("/oauth/revoke", data={"token": tokens["access_token"]})
    assert unauthenticated.status_code == 401


def test_introspection(client, register, rp, code_and_verifier) -> None:
    code, verifier = code_and_verifier
    tokens = _exchange(client, rp, code, verifier).json()
    resource = register()
    live = client.post(
        "/oauth/introspect", data={"token": tokens["access_token"], **resource.auth()}
    ).json()
    assert live["active"] is True and live["client_id"] == rp.client_id
    assert live["token_type"] == "Bearer" and "openid" in live["scope"].split()
    refresh = client.post(
        "/oauth/introspect", data={"token": tokens["refresh_token"], **rp.auth()}
    ).json()
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token"
    foreign_refresh = client.post(
        "/oauth/introspect", data={"token": tokens["refresh_token"], **resource.auth()}
    ).json()
    assert foreign_refresh == {"active": False}
    client.post("/oauth/revoke", data={"token": tokens["access_token"], **rp.auth()})
    dead = client.post(
        "/oauth/introspect", data={"token": tokens["access_token"], **resource.auth()}
    ).json()
    assert dead == {"active": False}
    assert client.post("/oauth/introspect", data={"token": "x"}).status_code == 401


def test_userinfo_releases_only_consented_scopes(client, signed_in, rp, tokens_for) -> None:
    body = tokens_for(rp, scope="openid age_over_18")
    info = _userinfo(client, body["access_token"]).json()
    assert set(info) == {"sub", "age_over_18"} and info["age_over_18"] is True
    full = tokens_for(rp, scope="openid profile birthdate address nik")
    info = _userinfo(client, full["access_token"]).json()
    assert info["nik"] == signed_in["nik"]
    assert info["address"]["satu_village_code"] == "32.73.01.1001"
    assert info["address"]["country"] == "Indonesia"
    post = client.post(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {full['access_token']}"}
    )
    assert post.json() == info


def test_age_over_18_is_false_for_a_minor(client, db, new_resident, register) -> None:
    from tests.identity.conftest import PASSWORD, sign_in

    today = utcnow().date()
    resident = new_resident(birth_date=date(today.year - 17, today.month, 1))
    identity.create_account(session=db, nik=resident.nik, password=PASSWORD)
    db.commit()
    assert sign_in(client, resident.nik).status_code == 303
    rp = register()
    verifier, challenge = pkce()
    params = authorize_params(rp.client_id, challenge, scope="openid age_over_18")
    code = get_code(client, params)
    tokens = _exchange(client, rp, code, verifier).json()
    assert _userinfo(client, tokens["access_token"]).json()["age_over_18"] is False


def test_userinfo_refuses_bad_tokens(client, signed_in, rp, tokens_for) -> None:
    body = tokens_for(rp)
    assert client.get("/oidc/userinfo").status_code == 401
    bad = _userinfo(client, body["access_token"][:-4] + "AAAA")
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert _userinfo(client, body["id_token"]).status_code == 401
    basic = client.get("/oidc/userinfo", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401


def test_pairwise_subjects_differ_per_agency_and_hide_the_nik(
    client, signed_in, register, tokens_for
) -> None:
    same_agency_a, same_agency_b = register(), register()
    other_agency = register(agency_id=OTHER_AGENCY)
    subs = [
        decode_unverified(tokens_for(c)["id_token"])["sub"]
        for c in (same_agency_a, same_agency_b, other_agency)
    ]
    assert subs[0] == subs[1], "one agency sees one stable sub"
    assert subs[0] != subs[2], "another agency cannot link"
    assert all(signed_in["nik"] not in s and signed_in["account_id"] not in s for s in subs)


def test_client_credentials_grant(client, register) -> None:
    system = register(
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=["add_oidc_client", "update_oidc_client"],
    )
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "update_oidc_client", **system.auth()},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "update_oidc_client" and "refresh_token" not in body
    assert decode_unverified(body["access_token"])["sub"] == system.client_id
    wider = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "openid", **system.auth()},
    )
    assert wider.json()["error"] == "invalid_scope"
    assert _userinfo(client, body["access_token"]).status_code == 403


def test_grant_types_are_per_client(client, rp, register) -> None:
    response = client.post("/oauth/token", data={"grant_type": "client_credentials", **rp.auth()})
    assert response.json()["error"] == "unauthorized_client"
    system = register(grant_types=["client_credentials"], redirect_uris=[], scopes=[])
    response = client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x", **system.auth()}
    )
    assert response.json()["error"] == "unauthorized_client"


def test_client_credentials_tokens_can_be_revoked_and_introspected(client, register) -> None:
    system = register(
        grant_types=["client_credentials"], redirect_uris=[], scopes=["update_oidc_client"]
    )
    token = client.post(
        "/oauth/token", data={"grant_type": "client_credentials", **system.auth()}
    ).json()["access_token"]
    live = client.post("/oauth/introspect", data={"token": token, **system.auth()}).json()
    assert live["active"] is True and live["sub"] == system.client_id
    assert client.post("/oauth/revoke", data={"token": token, **system.auth()}).status_code == 200
    dead = client.post("/oauth/introspect", data={"token": token, **system.auth()}).json()
    assert dead == {"active": False}


def test_cli_creates_clients_and_rotates_secrets(db, settings, monkeypatch, tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from satu.identity.oidc import cli
    from tests.identity.oidc.support import new_key

    class _Same:
        def __init__(self, factory):
            self.session = db

        def __enter__(self):
            return self.session

        def __exit__(self, *exc):
            self.session.flush()
            return False

    monkeypatch.setattr(cli, "_factory", lambda: None)
    monkeypatch.setattr(cli, "transaction", _Same)
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    runner = CliRunner()
    jwk_file = tmp_path / "key.json"
    jwk_file.write_text(json.dumps(new_key().as_dict(private=False)))
    created = runner.invoke(
        cli.app,
        [
            "create",
            "--name",
            "CLI",
            "--agency",
            "kemenkes",
            "--client-id",
            "cli-rp",
            "--redirect-uri",
            "https://cli.example.go.id/cb",
            "--jwks",
            str(jwk_file),
        ],
    )
    assert created.exit_code == 0, created.output
    assert "client_id: cli-rp" in created.output and "client_secret" not in created.output
    bad = runner.invoke(
        cli.app,
        [
            "create",
            "--name",
            "CLI",
            "--agency",
            "nope",
            "--redirect-uri",
            "https://cli.example.go.id/cb",
            "--auth-method",
            "client_secret_basic",
        ],
    )
    assert bad.exit_code == 1 and "invalid_rp_id" in bad.output
    secret = runner.invoke(cli.app, ["rotate-secret", "cli-rp"])
    assert secret.exit_code == 0 and "client_secret:" in secret.output
    value = secret.output.split("client_secret: ")[1].split()[0]
    shown = runner.invoke(cli.app, ["show", "cli-rp"])
    assert value not in shown.output and '"auth_method": "client_secret_basic"' in shown.output
    assert "cli-rp" in runner.invoke(cli.app, ["list"]).output
    assert runner.invoke(cli.app, ["disable", "cli-rp"]).exit_code == 0
    assert '"status": "inactive"' in runner.invoke(cli.app, ["show", "cli-rp"]).output


def test_refresh_stops_when_the_account_is_disabled(client, db, signed_in, rp, tokens_for):
    body = tokens_for(rp, scope="openid offline_access")
    identity.set_account_status(
        session=db, account_id=signed_in["account_id"], status="disabled", actor="test"
    )
    db.commit()
    response = _refresh(client, rp, body["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert _userinfo(client, body["access_token"]).status_code == 401
