"""The whole authorization code flow in-process: sign in, consent, code, tokens, userinfo."""

from __future__ import annotations

from tests.identity.oidc.support import ISSUER, decode_unverified


def test_code_flow_issues_verifiable_tokens(client, signed_in, rp, tokens_for) -> None:
    body = tokens_for(rp, scope="openid profile birthdate offline_access")
    assert body["token_type"] == "Bearer"
    assert set(body) >= {"access_token", "id_token", "refresh_token", "expires_in"}
    claims = decode_unverified(body["id_token"])
    assert claims["iss"] == ISSUER
    assert claims["aud"] == rp.client_id
    assert claims["nonce"] == body["_nonce"]
    assert claims["acr"] == "urn:satu:acr:pwd"
    info = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == claims["sub"]
    assert info.json()["name"] == "Budi Santoso"
    assert info.json()["birthdate"] == "1990-08-17"
    assert "nik" not in info.json()
