"""DPoP server nonces (RFC 9449 sections 8 and 9): stateless, per time window, per setting."""

from __future__ import annotations

import time

import pytest

from satu.identity.oidc import dpop
from tests.identity.oidc.support import (
    ISSUER,
    REDIRECT,
    authorize_params,
    dpop_proof,
    get_code,
    new_key,
    pkce,
)

TOKEN_URL = f"{ISSUER}/oauth/token"
PAR_URL = f"{ISSUER}/oauth/par"
USERINFO_URL = f"{ISSUER}/oidc/userinfo"


@pytest.fixture
def nonce_mode(monkeypatch):
    """Set `SATU_OIDC_DPOP_NONCE` for one test."""

    def set_mode(mode: str) -> None:
        monkeypatch.setenv("SATU_OIDC_DPOP_NONCE", mode)
        dpop.dpop_settings.cache_clear()

    yield set_mode
    monkeypatch.delenv("SATU_OIDC_DPOP_NONCE", raising=False)
    dpop.dpop_settings.cache_clear()


def _machine(register, **extra):
    return register(grant_types=["client_credentials"], redirect_uris=[], scopes=[], **extra)


def _cc(client, system, key, **claims):
    return client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **system.auth()},
        headers={"DPoP": dpop_proof(key, "POST", TOKEN_URL, **claims)},
    )


def test_nonces_are_stateless_and_last_two_windows(settings) -> None:
    now = time.time()
    window = dpop.NONCE_WINDOW_SECONDS
    current = dpop.current_nonce(settings, now)
    assert current == dpop.current_nonce(settings, now)  # same window, same nonce
    assert dpop.nonce_valid(settings, current, now)
    assert dpop.nonce_valid(settings, current, now + window)  # the previous window's
    assert not dpop.nonce_valid(settings, current, now + 2 * window)  # stale
    assert not dpop.nonce_valid(settings, dpop.current_nonce(settings, now + window), now)
    for bad in (None, "", 5, "x" * 32, current[:-1], current + "a"):
        assert not dpop.nonce_valid(settings, bad, now)
    other = settings.model_copy(update={"secret_key": "another-deployment-secret-0123456789"})
    assert not dpop.nonce_valid(other, current, now)


def test_off_by_default(client, register) -> None:
    system = _machine(register)
    response = _cc(client, system, new_key())
    assert response.status_code == 200, response.text
    assert "dpop-nonce" not in response.headers


@pytest.mark.parametrize("when", ["missing", "stale", "forged"])
def test_token_endpoint_asks_for_a_nonce(client, register, settings, nonce_mode, when) -> None:
    nonce_mode("always")
    system = _machine(register)
    key = new_key()
    claims = {
        "missing": {},
        "stale": {"nonce": dpop.current_nonce(settings, time.time() - 2 * 300)},
        "forged": {"nonce": "A" * 32},
    }[when]
    refused = _cc(client, system, key, **claims)
    assert refused.status_code == 400
    assert refused.json()["error"] == "use_dpop_nonce"
    nonce = refused.headers["DPoP-Nonce"]
    assert dpop.nonce_valid(settings, nonce)
    assert refused.headers["cache-control"] == "no-store"
    # The client retries with the nonce (a new proof and a new assertion) and succeeds.
    ok = _cc(client, system, key, nonce=nonce)
    assert ok.status_code == 200, ok.text
    assert ok.json()["token_type"] == "DPoP"
    assert dpop.nonce_valid(settings, ok.headers["DPoP-Nonce"])


def test_previous_window_nonce_is_accepted(client, register, settings, nonce_mode) -> None:
    nonce_mode("always")
    previous = dpop.current_nonce(settings, time.time() - dpop.NONCE_WINDOW_SECONDS)
    response = _cc(client, _machine(register), new_key(), nonce=previous)
    assert response.status_code == 200, response.text


def test_other_proof_errors_stay_invalid_dpop_proof(client, register, nonce_mode) -> None:
    nonce_mode("always")
    response = _cc(client, _machine(register), new_key(), htm="GET")
    assert response.json()["error"] == "invalid_dpop_proof"


def test_dpop_clients_mode_applies_only_to_require_dpop_clients(
    client, register, settings, nonce_mode
) -> None:
    nonce_mode("dpop-clients")
    key = new_key()
    relaxed = _cc(client, _machine(register), key)
    assert relaxed.status_code == 200, relaxed.text
    assert "dpop-nonce" not in relaxed.headers
    strict = _machine(register, require_dpop=True)
    refused = _cc(client, strict, key)
    assert refused.json()["error"] == "use_dpop_nonce"
    assert _cc(client, strict, key, nonce=refused.headers["DPoP-Nonce"]).status_code == 200
    # Without any proof, such a client is told to send one, with a nonce to put in it.
    bare = client.post("/oauth/token", data={"grant_type": "client_credentials", **strict.auth()})
    assert bare.json()["error"] == "invalid_dpop_proof"
    assert dpop.nonce_valid(settings, bare.headers["DPoP-Nonce"])


def test_par_asks_for_a_nonce(client, signed_in, rp, nonce_mode) -> None:
    nonce_mode("always")
    key = new_key()
    _, challenge = pkce()
    params = {**authorize_params(rp.client_id, challenge), **rp.auth()}
    refused = client.post(
        "/oauth/par", data=params, headers={"DPoP": dpop_proof(key, "POST", PAR_URL)}
    )
    assert refused.status_code == 400 and refused.json()["error"] == "use_dpop_nonce"
    params = {**authorize_params(rp.client_id, challenge), **rp.auth()}
    proof = dpop_proof(key, "POST", PAR_URL, nonce=refused.headers["DPoP-Nonce"])
    pushed = client.post("/oauth/par", data=params, headers={"DPoP": proof})
    assert pushed.status_code == 201, pushed.text


def test_userinfo_asks_for_a_nonce(client, signed_in, rp, settings, nonce_mode) -> None:
    key = new_key()
    verifier, challenge = pkce()
    code = get_code(client, authorize_params(rp.client_id, challenge))
    tokens = client.post(
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
    assert tokens.status_code == 200, tokens.text
    access = tokens.json()["access_token"]
    nonce_mode("always")

    def userinfo(**claims):
        proof = dpop_proof(key, "GET", USERINFO_URL, access_token=access, **claims)
        return client.get(
            "/oidc/userinfo", headers={"Authorization": f"DPoP {access}", "DPoP": proof}
        )

    refused = userinfo()
    assert refused.status_code == 401
    challenge_header = refused.headers["www-authenticate"]
    assert challenge_header.startswith("DPoP ") and 'error="use_dpop_nonce"' in challenge_header
    nonce = refused.headers["DPoP-Nonce"]
    assert dpop.nonce_valid(settings, nonce)
    stale = userinfo(nonce=dpop.current_nonce(settings, time.time() - 600))
    assert stale.status_code == 401 and "use_dpop_nonce" in stale.headers["www-authenticate"]
    ok = userinfo(nonce=nonce)
    assert ok.status_code == 200, ok.text
