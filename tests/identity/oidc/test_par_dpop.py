"""Pushed authorization requests (RFC 9126) and DPoP-bound tokens (RFC 9449)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from satu.core.db import utcnow
from satu.identity.oidc.models import PushedRequest
from tests.identity.oidc.support import (
    ISSUER,
    REDIRECT,
    approve,
    authorize_params,
    decode_unverified,
    dpop_proof,
    new_key,
    pkce,
    query_of,
)

TOKEN_URL = f"{ISSUER}/oauth/token"
PAR_URL = f"{ISSUER}/oauth/par"
USERINFO_URL = f"{ISSUER}/oidc/userinfo"


def _par(client, rp, params, headers=None):
    return client.post("/oauth/par", data={**params, **rp.auth()}, headers=headers or {})


def _authorize_with(client, rp, request_uri, **extra):
    params = {"client_id": rp.client_id, "request_uri": request_uri, **extra}
    return client.get("/authorize", params=params, follow_redirects=False)


# --- PAR ----------------------------------------------------------------------------------------


def test_par_then_authorize_then_token(client, signed_in, rp) -> None:
    verifier, challenge = pkce()
    params = authorize_params(rp.client_id, challenge)
    pushed = _par(client, rp, params)
    assert pushed.status_code == 201, pushed.text
    body = pushed.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert 60 <= body["expires_in"] <= 90
    page = _authorize_with(client, rp, body["request_uri"])
    done = approve(client, page)
    values = query_of(done.headers["location"])
    assert values["state"] == params["state"]
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": values["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            **rp.auth(),
        },
    )
    assert token.status_code == 200
    again = _authorize_with(client, rp, body["request_uri"])
    assert again.status_code == 400, "a request_uri is single use"


def test_par_validates_up_front(client, rp) -> None:
    _, challenge = pkce()
    bad = _par(
        client,
        rp,
        authorize_params(rp.client_id, challenge, redirect_uri="https://evil.example/cb"),
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
    plain = _par(
        client, rp, authorize_params(rp.client_id, challenge, code_challenge_method="plain")
    )
    assert plain.json()["error"] == "invalid_request"
    scope = _par(client, rp, authorize_params(rp.client_id, challenge, scope="openid email"))
    assert scope.json()["error"] == "invalid_scope"
    nested = _par(client, rp, {**authorize_params(rp.client_id, challenge), "request_uri": "urn:x"})
    assert nested.json()["error"] == "invalid_request"
    unauthenticated = client.post("/oauth/par", data=authorize_params(rp.client_id, challenge))
    assert unauthenticated.status_code == 401


def test_par_request_uri_is_bound_to_its_client_and_expires(client, signed_in, register, rp, db):
    _, challenge = pkce()
    request_uri = _par(client, rp, authorize_params(rp.client_id, challenge)).json()["request_uri"]
    other = register()
    assert _authorize_with(client, other, request_uri).status_code == 400
    row = db.get(PushedRequest, request_uri)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    assert _authorize_with(client, rp, request_uri).status_code == 400
    assert _authorize_with(client, rp, "urn:ietf:params:oauth:request_uri:nope").status_code == 400


def test_query_parameters_cannot_override_pushed_ones(client, signed_in, rp) -> None:
    _, challenge = pkce()
    request_uri = _par(client, rp, authorize_params(rp.client_id, challenge)).json()["request_uri"]
    page = _authorize_with(
        client, rp, request_uri, redirect_uri="https://evil.example/cb", scope="openid nik"
    )
    assert page.status_code == 200
    assert "NIK" not in page.text.split("<ul>")[1].split("</ul>")[0]


def test_clients_flagged_require_par_must_use_it(client, signed_in, register) -> None:
    rp = register(require_par=True)
    _, challenge = pkce()
    direct = client.get(
        "/authorize", params=authorize_params(rp.client_id, challenge), follow_redirects=False
    )
    assert query_of(direct.headers["location"])["error"] == "invalid_request"
    request_uri = _par(client, rp, authorize_params(rp.client_id, challenge)).json()["request_uri"]
    assert _authorize_with(client, rp, request_uri).status_code == 200


# --- DPoP ---------------------------------------------------------------------------------------


@pytest.fixture
def dpop_tokens(client, signed_in, rp):
    key = new_key()
    verifier, challenge = pkce()
    params = authorize_params(rp.client_id, challenge, scope="openid profile offline_access")
    page = client.get("/authorize", params=params, follow_redirects=False)
    code = query_of(approve(client, page).headers["location"])["code"]
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            **rp.auth(),
        },
        headers={"DPoP": dpop_proof(key, "POST", TOKEN_URL)},
    )
    assert response.status_code == 200, response.text
    return key, response.json()


def _userinfo(client, key, token, **kwargs):
    proof = dpop_proof(key, "GET", USERINFO_URL, access_token=token, **kwargs)
    return client.get("/oidc/userinfo", headers={"Authorization": f"DPoP {token}", "DPoP": proof})


def test_dpop_binds_the_access_token(client, dpop_tokens) -> None:
    key, body = dpop_tokens
    assert body["token_type"] == "DPoP"
    assert decode_unverified(body["access_token"])["cnf"]["jkt"] == key.thumbprint()
    assert _userinfo(client, key, body["access_token"]).status_code == 200


def test_dpop_bound_token_refused_as_bearer_or_with_another_key(client, dpop_tokens) -> None:
    _key, body = dpop_tokens
    token = body["access_token"]
    bearer = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 401
    no_proof = client.get("/oidc/userinfo", headers={"Authorization": f"DPoP {token}"})
    assert no_proof.status_code == 401
    assert 'error="invalid_dpop_proof"' in no_proof.headers["www-authenticate"]
    thief = _userinfo(client, new_key(), token)
    assert thief.status_code == 401


@pytest.mark.parametrize(
    "bad",
    [
        {"typ": "JWT"},
        {"iat": int(time.time()) - 3600},
        {"iat": int(time.time()) + 3600},
        {"htm": "POST"},
        {"htu": "https://elsewhere.example/oidc/userinfo"},
        {"ath": "wrong"},
    ],
    ids=["typ", "old", "future", "htm", "htu", "ath"],
)
def test_bad_dpop_proofs_at_the_resource(client, dpop_tokens, bad) -> None:
    key, body = dpop_tokens
    token = body["access_token"]
    kwargs = dict(bad)
    method = kwargs.pop("htm", "GET")
    url = kwargs.pop("htu", USERINFO_URL)
    proof = dpop_proof(key, method, url, access_token=token, **kwargs)
    response = client.get(
        "/oidc/userinfo", headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert response.status_code == 401, response.text


def test_a_dpop_proof_cannot_be_replayed(client, dpop_tokens) -> None:
    key, body = dpop_tokens
    token = body["access_token"]
    proof = dpop_proof(key, "GET", USERINFO_URL, access_token=token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    assert client.get("/oidc/userinfo", headers=headers).status_code == 200
    assert client.get("/oidc/userinfo", headers=headers).status_code == 401


def test_dpop_refresh_needs_the_same_key(client, rp, dpop_tokens) -> None:
    key, body = dpop_tokens
    data = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], **rp.auth()}
    no_proof = client.post("/oauth/token", data=data)
    assert no_proof.json()["error"] == "invalid_dpop_proof"
    other = client.post(
        "/oauth/token",
        data={**data, **rp.auth()},
        headers={"DPoP": dpop_proof(new_key(), "POST", TOKEN_URL)},
    )
    assert other.json()["error"] == "invalid_dpop_proof"
    good = client.post(
        "/oauth/token",
        data={**data, **rp.auth()},
        headers={"DPoP": dpop_proof(key, "POST", TOKEN_URL)},
    )
    assert good.status_code == 200 and good.json()["token_type"] == "DPoP"


def test_bad_dpop_proofs_at_the_token_endpoint(client, register) -> None:
    system = register(grant_types=["client_credentials"], redirect_uris=[], scopes=[])
    key = new_key()
    cases = [
        dpop_proof(key, "POST", TOKEN_URL, jwk=key.as_dict(private=True)),
        dpop_proof(key, "GET", TOKEN_URL),
        dpop_proof(new_key(), "POST", TOKEN_URL, jwk=key.as_dict(private=False)),
        "not.a.jwt",
    ]
    for proof in cases:
        response = client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", **system.auth()},
            headers={"DPoP": proof},
        )
        assert response.status_code == 400, proof
        assert response.json()["error"] == "invalid_dpop_proof"
    from tests.identity.oidc.support import unsigned

    none = unsigned(
        {"jti": "a", "htm": "POST", "htu": TOKEN_URL, "iat": int(time.time())},
        {"typ": "dpop+jwt", "alg": "none", "jwk": key.as_dict(private=False)},
    )
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **system.auth()},
        headers={"DPoP": none},
    )
    assert response.json()["error"] == "invalid_dpop_proof"


def test_clients_flagged_require_dpop_must_send_proofs(client, register) -> None:
    system = register(
        grant_types=["client_credentials"], redirect_uris=[], scopes=[], require_dpop=True
    )
    data = {"grant_type": "client_credentials"}
    without = client.post("/oauth/token", data={**data, **system.auth()})
    assert without.json()["error"] == "invalid_dpop_proof"
    key = new_key()
    with_proof = client.post(
        "/oauth/token",
        data={**data, **system.auth()},
        headers={"DPoP": dpop_proof(key, "POST", TOKEN_URL)},
    )
    assert with_proof.status_code == 200 and with_proof.json()["token_type"] == "DPoP"


def test_par_with_dpop_binds_the_code_to_the_key(client, signed_in, rp) -> None:
    key = new_key()
    verifier, challenge = pkce()
    params = authorize_params(rp.client_id, challenge)
    pushed = _par(client, rp, params, headers={"DPoP": dpop_proof(key, "POST", PAR_URL)})
    assert pushed.status_code == 201, pushed.text
    page = _authorize_with(client, rp, pushed.json()["request_uri"])
    code = query_of(approve(client, page).headers["location"])["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    wrong = client.post(
        "/oauth/token",
        data={**data, **rp.auth()},
        headers={"DPoP": dpop_proof(new_key(), "POST", TOKEN_URL)},
    )
    assert wrong.json()["error"] == "invalid_dpop_proof"
    right = client.post(
        "/oauth/token",
        data={**data, **rp.auth()},
        headers={"DPoP": dpop_proof(key, "POST", TOKEN_URL)},
    )
    assert right.status_code == 200, right.text
