"""Client registration rules and client authentication (private_key_jwt, client_secret_basic)."""

from __future__ import annotations

import time

import pytest
from joserfc.jwk import OctKey, RSAKey

from satu.identity.oidc.clients import ClientSpecError, create_client
from satu.identity.oidc.models import Client
from satu.identity.oidc.schemas import ClientSpec
from tests.identity.oidc.support import (
    AGENCY,
    ISSUER,
    TOKEN_URL,
    assertion,
    new_key,
    public_jwks,
    unsigned,
)


def _spec(**overrides):
    values = {
        "name": "Uji",
        "agency_id": AGENCY,
        "redirect_uris": ["https://rp.example.go.id/cb"],
        "auth_method": "client_secret_basic",
    }
    values.update(overrides)
    return ClientSpec(**values)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"agency_id": "no-such-agency"}, "invalid_rp_id"),
        ({"redirect_uris": ["http://rp.example.go.id/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://rp.example.go.id/cb#frag"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://*.example.go.id/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"scopes": ["openid", "email"]}, "invalid_claim"),
        ({"scopes": ["openid", "add_oidc_client"]}, "invalid_claim"),
        ({"scopes": ["profile"]}, "invalid_claim"),
        ({"acr_values": ["urn:other:acr"]}, "invalid_acr"),
        ({"auth_method": "private_key_jwt"}, "invalid_public_key"),
        (
            {"auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "AAAA"}]}},
            "invalid_public_key",
        ),
        ({"grant_types": ["refresh_token"]}, "invalid_grant_type"),
    ],
)
def test_bad_registrations_are_refused(db, settings, overrides, code) -> None:
    with pytest.raises(ClientSpecError) as caught:
        create_client(session=db, settings=settings, spec=_spec(**overrides))
    assert caught.value.code == code


def test_private_keys_are_never_accepted_as_client_keys(db, settings) -> None:
    key = new_key()
    with pytest.raises(ClientSpecError) as caught:
        create_client(
            session=db,
            settings=settings,
            spec=_spec(auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=True)]}),
        )
    assert caught.value.code == "invalid_public_key"


def test_secret_is_shown_once_and_stored_hashed(db, settings) -> None:
    created = create_client(session=db, settings=settings, spec=_spec(client_id="rp-secret"))
    assert created.client_secret and len(created.client_secret) >= 40
    row = db.get(Client, "rp-secret")
    assert created.client_secret not in (row.secret_hash or "")
    with pytest.raises(ClientSpecError) as caught:
        create_client(session=db, settings=settings, spec=_spec(client_id="rp-secret"))
    assert caught.value.code == "duplicate_client_id"


def _cc(client, data, **kwargs):
    return client.post("/oauth/token", data={"grant_type": "client_credentials", **data}, **kwargs)


@pytest.fixture
def machine(register):
    return register(
        grant_types=["client_credentials"], scopes=["update_oidc_client"], redirect_uris=[]
    )


def test_private_key_jwt_with_token_endpoint_or_issuer_audience(client, machine) -> None:
    for aud in (TOKEN_URL, ISSUER, [ISSUER, "https://other"]):
        response = _cc(client, machine.auth(aud=aud))
        assert response.status_code == 200, response.text


def test_audience_from_the_host_header_is_refused(client, machine) -> None:
    spoofed = "http://attacker.example/oauth/token"
    response = _cc(client, machine.auth(aud=spoofed), headers={"Host": "attacker.example"})
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "make",
    [
        lambda m: assertion(m.key, m.client_id, aud="https://elsewhere.example/token"),
        lambda m: assertion(m.key, m.client_id, lifetime=-120),
        lambda m: assertion(m.key, m.client_id, lifetime=3600),
        lambda m: assertion(m.key, m.client_id, iat=int(time.time()) + 600),
        lambda m: assertion(m.key, m.client_id, sub="someone-else"),
        lambda m: assertion(m.key, m.client_id, jti=""),
        lambda m: assertion(new_key(), m.client_id),
        lambda m: unsigned(
            {
                "iss": m.client_id,
                "sub": m.client_id,
                "aud": TOKEN_URL,
                "exp": int(time.time()) + 60,
                "jti": "x",
            }
        ),
        lambda m: assertion(OctKey.generate_key(256), m.client_id, alg="HS256"),
        lambda m: assertion(RSAKey.generate_key(2048), m.client_id, alg="RS256"),
        lambda m: "garbage",
    ],
    ids=[
        "wrong-aud",
        "expired",
        "too-long",
        "future-iat",
        "sub-mismatch",
        "no-jti",
        "forged-key",
        "alg-none",
        "hs256",
        "unregistered-rsa",
        "garbage",
    ],
)
def test_bad_client_assertions_get_invalid_client(client, machine, make) -> None:
    data = {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": make(machine),
    }
    response = _cc(client, data)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["cache-control"] == "no-store"


def test_hs256_signed_with_the_public_key_is_refused(client, machine) -> None:
    """The classic algorithm-confusion attack: HMAC keyed with the registered public key."""
    import json

    public = json.dumps(public_jwks(machine.key)["keys"][0]).encode()
    forged = assertion(OctKey.import_key(public), machine.client_id, alg="HS256")
    response = _cc(
        client,
        {
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": forged,
        },
    )
    assert response.status_code == 401


def test_a_client_assertion_is_single_use(client, machine) -> None:
    data = machine.auth(jti="only-once")
    assert _cc(client, data).status_code == 200
    again = _cc(client, data)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"


def test_client_secret_basic(client, register) -> None:
    rp = register(
        auth_method="client_secret_basic",
        grant_types=["client_credentials"],
        scopes=["update_oidc_client"],
        redirect_uris=[],
    )
    assert _cc(client, {}, auth=rp.basic()).status_code == 200
    wrong = _cc(client, {}, auth=(rp.client_id, "wrong"))
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Basic")
    unknown = _cc(client, {}, auth=("nobody", "wrong"))
    assert unknown.status_code == 401
    assert unknown.json() == wrong.json()
    post = _cc(client, {"client_id": rp.client_id, "client_secret": rp.secret})
    assert post.status_code == 401
    both = _cc(client, {"client_assertion": "x", "client_assertion_type": "y"}, auth=rp.basic())
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"


def test_missing_client_authentication(client) -> None:
    response = _cc(client, {})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_json_body_and_repeated_parameters_are_refused(client, machine) -> None:
    response = client.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    body = "grant_type=client_credentials&grant_type=authorization_code"
    response = client.post(
        "/oauth/token",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.json()["error"] == "invalid_request"


def test_inactive_clients_cannot_authenticate(client, db, machine) -> None:
    db.get(Client, machine.client_id).status = "inactive"
    db.commit()
    assert _cc(client, machine.auth()).status_code == 401
