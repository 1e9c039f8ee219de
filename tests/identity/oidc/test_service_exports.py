"""What the identity service publishes for other domains: access-token checks and consents."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey

from satu.core.db import utcnow
from satu.identity import service as identity
from satu.identity.oidc import keys
from satu.identity.oidc.consents import withdraw
from satu.identity.oidc.models import Client, Consent
from tests.identity.oidc.support import AGENCY, ISSUER, OTHER_AGENCY, decode_unverified


def _machine_token(client, system) -> str:
    response = client.post(
        "/oauth/token", data={"grant_type": "client_credentials", **system.auth()}
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_resident_token_is_verified_with_its_facts(
    client, db, settings, signed_in, rp, tokens_for
) -> None:
    body = tokens_for(rp, scope="openid profile")
    info = identity.verify_access_token(session=db, token=body["access_token"], settings=settings)
    assert info is not None
    claims = decode_unverified(body["access_token"])
    assert info.client_id == rp.client_id and info.agency_id == AGENCY
    assert info.scopes == ["openid", "profile"]
    assert info.subject == claims["sub"] and signed_in["nik"] not in info.subject
    assert info.expires_at == datetime.fromtimestamp(claims["exp"], UTC)
    assert info.expires_at > utcnow() and info.jkt is None
    # Without explicit settings the process settings are used (same issuer in tests).
    assert identity.verify_access_token(session=db, token=body["access_token"]) == info


def test_machine_token_has_no_subject(client, db, register) -> None:
    system = register(
        grant_types=["client_credentials"], redirect_uris=[], scopes=["update_oidc_client"]
    )
    info = identity.verify_access_token(session=db, token=_machine_token(client, system))
    assert info is not None
    assert info.client_id == system.client_id and info.subject is None
    assert info.scopes == ["update_oidc_client"]


def test_audience_must_match_when_asked(client, db, register) -> None:
    system = register(
        grant_types=["client_credentials"], redirect_uris=[], scopes=["update_oidc_client"]
    )
    token = _machine_token(client, system)
    assert identity.verify_access_token(session=db, token=token, audience=ISSUER) is not None
    assert identity.verify_access_token(session=db, token=token, audience="https://x.id") is None


def test_invalid_tokens_are_refused(client, db, settings, register) -> None:
    system = register(
        grant_types=["client_credentials"], redirect_uris=[], scopes=["update_oidc_client"]
    )
    token = _machine_token(client, system)
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload}.{signature[:-4]}AAAA"
    for bad in ("", "garbage", "a.b.c", tampered, token + "x", "x" * 9000):
        assert identity.verify_access_token(session=db, token=bad) is None
    # Signed by a key that is not ours, though it names our kid.
    claims = decode_unverified(token)
    kid = jws.extract_compact(token.encode()).headers()["kid"]
    forged = jwt.encode(
        {"alg": "ES256", "kid": kid, "typ": "at+jwt"},
        claims,
        ECKey.generate_key("P-256"),
        algorithms=["ES256"],
    )
    assert identity.verify_access_token(session=db, token=forged) is None
    # Our key, but an ID token (typ JWT), an expired token, another issuer, an unknown jti.
    now = int(time.time())
    for typ, changes in (
        ("JWT", {}),
        ("at+jwt", {"exp": now - 1}),
        ("at+jwt", {"iss": "https://elsewhere.example"}),
        ("at+jwt", {"jti": "never-issued"}),
    ):
        signed = keys.sign(session=db, settings=settings, claims={**claims, **changes}, typ=typ)
        assert identity.verify_access_token(session=db, token=signed) is None
    # Revoked.
    assert client.post("/oauth/revoke", data={"token": token, **system.auth()}).status_code == 200
    assert identity.verify_access_token(session=db, token=token) is None


def test_token_of_an_inactive_client_is_refused(client, db, register) -> None:
    system = register(
        grant_types=["client_credentials"], redirect_uris=[], scopes=["update_oidc_client"]
    )
    token = _machine_token(client, system)
    row = db.get(Client, system.client_id)
    assert row is not None
    row.status = "inactive"
    db.flush()
    assert identity.verify_access_token(session=db, token=token) is None


def test_dpop_bound_token_reports_its_key(client, db, settings, signed_in, rp) -> None:
    from tests.identity.oidc.support import (
        REDIRECT,
        TOKEN_URL,
        authorize_params,
        dpop_proof,
        get_code,
        new_key,
        pkce,
    )

    key = new_key()
    verifier, challenge = pkce()
    code = get_code(client, authorize_params(rp.client_id, challenge))
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
    access = response.json()["access_token"]
    info = identity.verify_access_token(session=db, token=access)
    assert info is not None and info.jkt == key.thumbprint()
    # A resource server of another domain checks the request's proof against it.
    url = "https://exchange.example.go.id/api/v1/data"
    proof = dpop_proof(key, "GET", url, access_token=access)
    assert (
        identity.verify_dpop_proof(
            session=db, proof=proof, method="GET", url=url, access_token=access
        )
        == info.jkt
    )
    with pytest.raises(ValueError):  # replayed
        identity.verify_dpop_proof(
            session=db, proof=proof, method="GET", url=url, access_token=access
        )
    other = dpop_proof(new_key(), "GET", url, access_token=access)
    assert (
        identity.verify_dpop_proof(
            session=db, proof=other, method="GET", url=url, access_token=access
        )
        != info.jkt
    )
    for method, where, token in (
        ("POST", url, access),
        ("GET", url + "/other", access),
        ("GET", url, access + "x"),
    ):
        with pytest.raises(ValueError):
            identity.verify_dpop_proof(
                session=db,
                proof=dpop_proof(key, "GET", url, access_token=access),
                method=method,
                url=where,
                access_token=token,
            )


def test_consent_for_agency(client, db, signed_in, rp, register, tokens_for) -> None:
    nik = signed_in["nik"]
    assert identity.consent_for_agency(session=db, nik=nik, agency_id=AGENCY) is None
    tokens_for(rp, scope="openid profile")
    first = identity.consent_for_agency(session=db, nik=nik, agency_id=AGENCY)
    assert first is not None
    assert first.client_id == rp.client_id and set(first.scopes) == {"openid", "profile"}
    # Another agency's question is not answered by this consent; nor another resident's.
    assert identity.consent_for_agency(session=db, nik=nik, agency_id=OTHER_AGENCY) is None
    assert identity.consent_for_agency(session=db, nik="3273010101900001", agency_id=AGENCY) is None
    # A newer consent to a second service of the same agency wins.
    second_rp = register()
    tokens_for(second_rp, scope="openid birthdate")
    row = db.get(Consent, int(first.consent_id))
    assert row is not None
    row.granted_at = utcnow() - timedelta(days=1)
    db.flush()
    newest = identity.consent_for_agency(session=db, nik=nik, agency_id=AGENCY)
    assert newest is not None and newest.client_id == second_rp.client_id
    assert newest.consent_id != first.consent_id
    # Withdrawn consents and consents to inactive clients do not count.
    assert withdraw(session=db, account_id=signed_in["account_id"], client_id=second_rp.client_id)
    again = identity.consent_for_agency(session=db, nik=nik, agency_id=AGENCY)
    assert again is not None and again.client_id == rp.client_id
    client_row = db.get(Client, rp.client_id)
    assert client_row is not None
    client_row.status = "inactive"
    db.flush()
    assert identity.consent_for_agency(session=db, nik=nik, agency_id=AGENCY) is None
