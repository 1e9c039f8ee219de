"""Malformed and hostile inputs get OAuth errors or 4xx pages, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from tests.identity.oidc.support import ISSUER, TOKEN_URL, b64url, new_key


def _jws(header: dict, payload) -> str:
    return (
        b64url(json.dumps(header).encode())
        + "."
        + b64url(json.dumps(payload).encode())
        + "."
        + b64url(b"\x00" * 64)
    )


@pytest.mark.parametrize(
    "proof",
    [
        _jws({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC"}}, {"jti": "a"}),
        _jws({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "oct", "k": "AAAA"}}, {}),
        _jws({"typ": "dpop+jwt", "alg": "ES256", "jwk": ["x"]}, {}),
        _jws({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "RSA", "n": "x", "e": "AQAB"}}, {}),
        _jws({"typ": "dpop+jwt", "alg": "ES256"}, ["not", "an", "object"]),
        "a.b.c",
        "....",
    ],
)
def test_malformed_dpop_proofs(client, register, proof) -> None:
    system = register(grant_types=["client_credentials"], redirect_uris=[], scopes=[])
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **system.auth()},
        headers={"DPoP": proof.encode("utf-8").decode("latin-1")},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_dpop_proof"


@pytest.mark.parametrize(
    "assertion",
    [
        _jws({"alg": "ES256"}, ["array"]),
        _jws({"alg": "ES256"}, {"iss": 5, "sub": 5}),
        _jws({"alg": "ES256"}, {"iss": "x" * 500}),
        _jws({"alg": ["ES256"]}, {"iss": "a"}),
        "e30.e30.",
    ],
)
def test_malformed_client_assertions(client, assertion) -> None:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_assertion_for_a_client_with_several_keys_and_no_kid(client, register) -> None:
    from joserfc import jwt

    first, second = new_key(), new_key()
    system = register(
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=[],
        jwks={"keys": [first.as_dict(private=False), second.as_dict(private=False)]},
    )
    import time
    import uuid

    claims = {
        "iss": system.client_id,
        "sub": system.client_id,
        "aud": TOKEN_URL,
        "exp": int(time.time()) + 60,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode({"alg": "ES256"}, claims, second)
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": token,
        },
    )
    assert response.status_code in (200, 401)
    assert response.status_code != 500


@pytest.mark.parametrize(
    "header",
    [
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode("\xff:\xfe".encode("latin-1")).decode(),
        "Bearer x",
    ],
)
def test_malformed_basic_credentials(client, header) -> None:
    response = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": header}
    )
    assert response.status_code == 401


def test_odd_authorize_and_userinfo_inputs(client, rp) -> None:
    assert client.get("/authorize?client_id=%FF%FE").status_code == 400
    assert (
        client.get(
            "/authorize", params={"client_id": rp.client_id, "request_uri": "x" * 5000}
        ).status_code
        == 400
    )
    for header in ("DPoP", "Bearer", "Bearer a.b.c", "DPoP " + "x" * 10000, "Negotiate abc"):
        response = client.get("/oidc/userinfo", headers={"Authorization": header})
        assert response.status_code == 401, header
    big = client.post("/oauth/introspect", data={"token": "x" * 50000})
    assert big.status_code == 401
    assert client.get("/oidc/logout", params={"id_token_hint": "garbage"}).status_code == 200
    _ = ISSUER
