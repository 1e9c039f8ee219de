"""The data tracker: the resident's page, proofs of inclusion and Estonia-style /v2/findUsage."""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jws, jwt
from joserfc.jwk import ECKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu.core.config import Settings
from satu.core.db import utcnow
from satu.exchange import registry, tracker
from satu.exchange.models import LogEntry
from satu.exchange.schemas import LogRecordIn
from tests.exchange._pubsub_support import make_resident, sign_in
from tests.exchange.conftest import ADMIN, ExchangeWorld, consumer_headers, issue_token
from tests.identity.oidc.support import (
    ISSUER,
    REDIRECT,
    TOKEN_URL,
    authorize_params,
    client_auth,
    decode_unverified,
    dpop_proof,
    get_code,
    new_key,
    pkce,
    public_jwks,
    unsigned,
)

_serials = itertools.count(7400)


def _log(db: Session, world: ExchangeWorld, nik: str, **overrides: Any) -> int:
    values: dict[str, Any] = {
        "logged_at": utcnow(),
        "transaction_id": f"tx-{next(_serials)}",
        "request_id": "r",
        "client_id": world.consumer.xroad_id,
        "client_agency_id": "kemensos",
        "service_id": world.service.xroad_id,
        "provider_agency_id": "kemendagri.dukcapil",
        "method": "GET",
        "operation": "GET /persons/{nik}",
        "nik": nik,
        "purpose": "bansos-eligibility",
        "lawful_basis": "",
        "status": 200,
    }
    values.update(overrides)
    from satu.exchange import transparency

    receipt = transparency.append(session=db, record=LogRecordIn(**values))
    db.commit()
    return receipt.index


@pytest.fixture
def resident(db: Session) -> str:
    return make_resident(db, next(_serials))


def test_the_tracker_page_needs_a_signed_in_resident(client: TestClient) -> None:
    response = client.get(
        "/akun/jejak-data", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/masuk?next=%2Fakun%2Fjejak-data")


def test_a_resident_sees_only_their_own_exchanges_with_proof(
    client: TestClient, db: Session, exchange_world: ExchangeWorld, resident: str
) -> None:
    other = make_resident(db, next(_serials))
    mandate = registry.add_mandate(
        session=db,
        actor=ADMIN,
        service_id=exchange_world.service.id,
        client_agency_id="kemensos",
        purpose="bansos-eligibility",
        legal_basis="UU 13/2011 tentang Penanganan Fakir Miskin, Pasal 11",
    )
    mine = _log(db, exchange_world, resident, lawful_basis=f"mandate:{mandate.id}")
    theirs = _log(db, exchange_world, other, purpose="secret-purpose-of-someone-else")
    from satu.exchange import transparency

    transparency.sign_tree_head(session=db)
    db.commit()
    sign_in(client, resident)

    page = client.get("/akun/jejak-data", headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    assert "Kementerian Sosial" in page.text
    assert "bansos-eligibility" in page.text
    assert "UU 13/2011" in page.text
    assert f'href="/akun/jejak-data/{mine}"' in page.text
    assert "secret-purpose-of-someone-else" not in page.text
    assert "Siapa yang memakai data saya" in page.text  # Bahasa Indonesia first

    detail = client.get(f"/akun/jejak-data/{mine}", headers={"accept": "text/html"})
    assert detail.status_code == 200, detail.text
    assert "Terverifikasi: catatan ini termasuk dalam log" in detail.text
    proof = tracker.proof_for(session=db, nik=resident, index=mine)
    assert proof is not None and proof.verified
    assert proof.signed  # checked against the signed tree head's root
    assert tracker.proof_for(session=db, nik=resident, index=theirs) is None
    english = client.get(f"/akun/jejak-data/{mine}?lang=en", headers={"accept": "text/html"})
    assert "Verified" in english.text and "Who used my data" not in english.text

    for index in (theirs, 10**9):
        refused = client.get(f"/akun/jejak-data/{index}", headers={"accept": "text/html"})
        assert refused.status_code == 404


def test_the_tracker_page_is_paginated(
    client: TestClient, db: Session, exchange_world: ExchangeWorld, resident: str
) -> None:
    now = utcnow()
    for i in range(23):
        _log(db, exchange_world, resident, logged_at=now - timedelta(minutes=i), purpose=f"p{i}")
    sign_in(client, resident)
    first = client.get("/akun/jejak-data", headers={"accept": "text/html"})
    assert "p0<" in first.text and "p19<" in first.text and "p20<" not in first.text
    assert 'rel="next"' in first.text
    second = client.get("/akun/jejak-data?page=2", headers={"accept": "text/html"})
    assert "p20<" in second.text and "p22<" in second.text and "p0<" not in second.text
    assert 'rel="prev"' in second.text
    bad = client.get("/akun/jejak-data?page=0", headers={"accept": "text/html"})
    assert bad.status_code == 422


# --- /v2/findUsage ----------------------------------------------------------------------------


def test_find_usage_for_the_signed_in_resident(
    client: TestClient, db: Session, exchange_world: ExchangeWorld, resident: str
) -> None:
    old = utcnow() - timedelta(days=10)
    _log(db, exchange_world, resident, logged_at=old, purpose="old")
    _log(db, exchange_world, resident, purpose="new")
    sign_in(client, resident)
    answer = client.get("/v2/findUsage", headers={"X-Road-UserId": f"ID{resident}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["totalUsages"] == 2
    newest = body["usages"][0]
    assert newest["purpose"] == "new"
    assert newest["receiverCode"] == exchange_world.consumer.subsystem.member_code
    assert newest["receiverName"] == "Kementerian Sosial"
    assert newest["receiverSystem"] == exchange_world.consumer.xroad_id
    assert newest["action"].startswith("population")
    assert newest["logtime"].endswith("Z")
    since = (utcnow() - timedelta(days=1)).isoformat()
    recent = client.get(
        "/v2/findUsage",
        params={"periodStart": since, "limit": 1, "userCode": f"ID{resident}"},
        headers={"X-Road-UserId": resident},
    )
    assert recent.status_code == 200, recent.text
    assert recent.json()["totalUsages"] == 1 and recent.json()["usages"][0]["purpose"] == "new"
    paged = client.get(
        "/v2/findUsage", params={"offset": 1}, headers={"X-Road-UserId": f"ID{resident}"}
    )
    assert [u["purpose"] for u in paged.json()["usages"]] == ["old"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": 1001}, 422),
        ({"limit": 0}, 422),
        ({"offset": -1}, 422),
        ({"periodStart": "yesterday"}, 422),
        ({"periodEnd": "2026-13-45T00:00:00"}, 422),
        ({"periodStart": "2026-02-01T00:00:00Z", "periodEnd": "2026-01-01T00:00:00Z"}, 422),
        ({"userCode": "ID3273011708900001"}, 403),  # someone else: representation unsupported
    ],
)
def test_find_usage_bad_requests(
    client: TestClient, resident: str, params: dict[str, Any], status: int
) -> None:
    sign_in(client, resident)
    answer = client.get("/v2/findUsage", params=params, headers={"X-Road-UserId": f"ID{resident}"})
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_find_usage_refuses_other_residents_and_strangers(
    client: TestClient, db: Session, resident: str
) -> None:
    other = make_resident(db, next(_serials))
    assert client.get("/v2/findUsage", headers={"X-Road-UserId": f"ID{resident}"}).status_code == (
        401
    )
    sign_in(client, resident)
    assert client.get("/v2/findUsage", headers={"X-Road-UserId": f"ID{other}"}).status_code == 403
    assert client.get("/v2/findUsage").status_code == 422  # X-Road-UserId is required
    bad = client.get("/v2/findUsage", headers={"X-Road-UserId": "ID12345"})
    assert bad.status_code == 422
    token_only = client.get(
        "/v2/findUsage",
        headers={"X-Road-UserId": f"ID{resident}", "Authorization": "Bearer abc"},
    )
    assert token_only.status_code == 401


def test_find_usage_by_an_exchange_client_needs_consent_and_is_logged(
    client: TestClient, db: Session, exchange_world: ExchangeWorld, resident: str
) -> None:
    _log(db, exchange_world, resident)
    headers = {
        **consumer_headers(client, exchange_world.consumer),
        "X-Road-UserId": f"ID{resident}",
    }
    refused = client.get("/v2/findUsage", headers=headers)
    assert refused.status_code == 403, refused.text

    from satu.identity import service as identity
    from satu.identity.oidc.models import Consent

    account = identity.account_for_nik(session=db, nik=resident)
    assert account is not None
    db.add(
        Consent(
            account_id=account.id,
            client_id=exchange_world.consumer.client_id,
            scopes=["openid"],
            granted_at=utcnow(),
        )
    )
    db.commit()
    before = db.scalar(select(func.count()).select_from(LogEntry))
    answer = client.get("/v2/findUsage", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["totalUsages"] == 1
    assert db.scalar(select(func.count()).select_from(LogEntry)) == before + 1
    # The read itself now shows in the resident's own usage.
    again = client.get("/v2/findUsage", headers=headers).json()
    assert again["totalUsages"] == 2
    assert again["usages"][0]["action"].endswith("GET /v2/findUsage")
    assert again["usages"][0]["consentReference"]


# --- /v2/findUsage with a resident's app token --------------------------------------------------

FIND_USAGE_URL = f"{ISSUER}/v2/findUsage"  # the public URL a DPoP proof names


@dataclass
class ResidentApp:
    """An authorization-code client (a resident's mobile app) and its private_key_jwt key."""

    client_id: str
    key: ECKey


@pytest.fixture
def resident_app(db: Session, settings: Settings) -> ResidentApp:
    """An app of Ditjen Dukcapil allowed the data_usage scope (an operator registered it)."""
    from satu.identity.oidc.clients import create_client
    from satu.identity.oidc.schemas import ClientSpec

    key = new_key()
    created = create_client(
        session=db,
        settings=settings,
        spec=ClientSpec(
            name="Aplikasi Jejak Data",
            agency_id="kemendagri.dukcapil",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            scopes=["openid", "profile", "data_usage", "offline_access"],
            auth_method="private_key_jwt",
            jwks=public_jwks(key),
        ),
    )
    db.commit()
    return ResidentApp(created.client.client_id, key)


def _app_tokens(
    client: TestClient,
    app: ResidentApp,
    nik: str,
    *,
    scope: str = "openid data_usage",
    dpop_key: ECKey | None = None,
) -> dict[str, Any]:
    """The resident signs in and consents in the browser; the app redeems the code."""
    sign_in(client, nik)
    verifier, challenge = pkce()
    params = authorize_params(app.client_id, challenge, scope=scope)
    code = get_code(client, params)
    headers = {"DPoP": dpop_proof(dpop_key, "POST", TOKEN_URL)} if dpop_key else {}
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            **client_auth(app.key, app.client_id),
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == ("DPoP" if dpop_key else "Bearer")
    client.cookies.clear()  # from here on the app holds only its tokens, no session
    return dict(response.json())


def _app_token(client: TestClient, app: ResidentApp, nik: str, **kwargs: Any) -> str:
    return str(_app_tokens(client, app, nik, **kwargs)["access_token"])


def _usage(client: TestClient, nik: str, authorization: str, **headers: str) -> Any:
    return client.get(
        "/v2/findUsage",
        headers={"X-Road-UserId": f"ID{nik}", "Authorization": authorization, **headers},
    )


def _refused(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert f'error="{error}"' in response.headers["www-authenticate"]


def test_a_residents_app_reads_their_own_usage_with_its_token(
    client: TestClient,
    db: Session,
    exchange_world: ExchangeWorld,
    resident: str,
    resident_app: ResidentApp,
) -> None:
    other = make_resident(db, next(_serials))
    _log(db, exchange_world, resident, purpose="mine-1")
    _log(db, exchange_world, resident, purpose="mine-2")
    _log(db, exchange_world, other, purpose="theirs")
    token = _app_token(client, resident_app, resident)
    claims = decode_unverified(token)
    assert resident not in token and resident not in str(claims)  # pairwise sub, no NIK
    assert "data_usage" in claims["scope"].split()
    before = db.scalar(select(func.count()).select_from(LogEntry))

    answer = _usage(client, resident, f"Bearer {token}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["totalUsages"] == 2
    assert {u["purpose"] for u in answer.json()["usages"]} == {"mine-1", "mine-2"}
    bare = client.get(
        "/v2/findUsage",
        params={"limit": 1},
        headers={"X-Road-UserId": resident, "Authorization": f"Bearer {token}"},
    )
    assert bare.status_code == 200 and len(bare.json()["usages"]) == 1
    # The app acts as the resident: its reads are not appended to the log.
    assert db.scalar(select(func.count()).select_from(LogEntry)) == before

    # Another resident's usage: 403, by header or by userCode.
    theirs = _usage(client, other, f"Bearer {token}")
    assert theirs.status_code == 403, theirs.text
    assert theirs.headers["content-type"].startswith("application/problem+json")
    assert "theirs" not in theirs.text
    on_behalf = client.get(
        "/v2/findUsage",
        params={"userCode": f"ID{other}"},
        headers={"X-Road-UserId": f"ID{resident}", "Authorization": f"Bearer {token}"},
    )
    assert on_behalf.status_code == 403
    # With X-Road-Client the call is an exchange client's, and a resident's token is not one.
    as_client = _usage(
        client, resident, f"Bearer {token}", **{"X-Road-Client": exchange_world.consumer.xroad_id}
    )
    assert as_client.status_code == 401, as_client.text


def test_an_app_cannot_find_the_nik_by_trying(
    client: TestClient, db: Session, resident: str, resident_app: ResidentApp
) -> None:
    from satu.exchange.tracker_api import NIK_MISMATCHES_PER_HOUR

    token = _app_token(client, resident_app, resident)
    guesses = [make_resident(db, next(_serials)) for _ in range(2)]
    for i in range(NIK_MISMATCHES_PER_HOUR):
        wrong = _usage(client, guesses[i % 2], f"Bearer {token}")
        assert wrong.status_code == 403, (i, wrong.text)
    # Paused: a further guess and even the right NIK get the same 429, which tells nothing.
    for nik in (guesses[0], resident):
        paused = _usage(client, nik, f"Bearer {token}")
        assert paused.status_code == 429, paused.text
        assert paused.headers["content-type"].startswith("application/problem+json")
        assert 1 <= int(paused.headers["retry-after"]) <= 3601
    # The resident themself, signed in, is not paused.
    sign_in(client, resident)
    assert client.get("/v2/findUsage", headers={"X-Road-UserId": resident}).status_code == 200


def test_refreshed_app_tokens_keep_or_lose_the_scope(
    client: TestClient, resident: str, resident_app: ResidentApp
) -> None:
    tokens = _app_tokens(client, resident_app, resident, scope="openid data_usage offline_access")

    def refreshed(refresh_token: str, scope: str) -> str:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": scope}
        app_auth = client_auth(resident_app.key, resident_app.client_id)
        response = client.post("/oauth/token", data={**form, **app_auth})
        assert response.status_code == 200, response.text
        tokens.update(response.json())
        return str(tokens["access_token"])

    kept = refreshed(tokens["refresh_token"], "openid data_usage")
    assert _usage(client, resident, f"Bearer {kept}").status_code == 200
    narrowed = refreshed(tokens["refresh_token"], "openid")
    _refused(_usage(client, resident, f"Bearer {narrowed}"), 403, "insufficient_scope")


def test_an_app_token_without_the_data_usage_scope_is_forbidden(
    client: TestClient, resident: str, resident_app: ResidentApp
) -> None:
    token = _app_token(client, resident_app, resident, scope="openid profile")
    _refused(_usage(client, resident, f"Bearer {token}"), 403, "insufficient_scope")


def test_expired_forged_revoked_and_machine_tokens_are_refused(
    client: TestClient,
    db: Session,
    settings: Settings,
    exchange_world: ExchangeWorld,
    resident: str,
    resident_app: ResidentApp,
) -> None:
    from satu.identity import service as identity
    from satu.identity.oidc import keys

    token = _app_token(client, resident_app, resident)
    assert _usage(client, resident, f"Bearer {token}").status_code == 200
    claims = decode_unverified(token)
    kid = jws.extract_compact(token.encode()).headers()["kid"]
    head, _payload, signature = token.split(".")
    # The same header and signature over a payload that lives an hour longer.
    longer = jwt.encode(
        {"alg": "ES256"}, {**claims, "exp": claims["exp"] + 3600}, new_key(), algorithms=["ES256"]
    ).split(".")[1]
    bad_tokens = {
        # Signed with our own key (a real token of the provider), but already expired.
        "expired": keys.sign(
            session=db,
            settings=settings,
            claims={**claims, "exp": int(time.time()) - 1},
            typ="at+jwt",
        ),
        # Signed by someone else's key that names ours.
        "forged": jwt.encode(
            {"alg": "ES256", "kid": kid, "typ": "at+jwt"}, claims, new_key(), algorithms=["ES256"]
        ),
        "tampered": f"{head}.{longer}.{signature}",
        "unsigned": unsigned(claims, {"alg": "none", "typ": "at+jwt"}),
        "garbage": "abc",
    }
    for name, bad in bad_tokens.items():
        refused = _usage(client, resident, f"Bearer {bad}")
        assert refused.status_code == 401, name
        _refused(refused, 401, "invalid_token")
    # An exchange client's client_credentials token without X-Road-Client speaks for nobody.
    machine = issue_token(client, exchange_world.consumer)
    _refused(_usage(client, resident, f"Bearer {machine}"), 401, "invalid_token")
    # A disabled account's token stops working at once.
    account = identity.account_for_nik(session=db, nik=resident)
    assert account is not None
    identity.set_account_status(session=db, account_id=account.id, status="disabled", actor="t")
    db.commit()
    _refused(_usage(client, resident, f"Bearer {token}"), 401, "invalid_token")
    identity.set_account_status(session=db, account_id=account.id, status="active", actor="t")
    db.commit()
    assert _usage(client, resident, f"Bearer {token}").status_code == 200
    # So does the token of a client the operator deactivated.
    from satu.identity.oidc.models import Client

    row = db.get(Client, resident_app.client_id)
    assert row is not None
    row.status = "inactive"
    db.commit()
    _refused(_usage(client, resident, f"Bearer {token}"), 401, "invalid_token")
    row.status = "active"
    db.commit()
    assert _usage(client, resident, f"Bearer {token}").status_code == 200
    # Revoked by the app (RFC 7009): refused at once.
    app_auth = client_auth(resident_app.key, resident_app.client_id)
    revoked = client.post("/oauth/revoke", data={"token": token, **app_auth})
    assert revoked.status_code == 200, revoked.text
    _refused(_usage(client, resident, f"Bearer {token}"), 401, "invalid_token")


def test_a_dpop_bound_app_token_needs_its_proof(
    client: TestClient,
    db: Session,
    exchange_world: ExchangeWorld,
    resident: str,
    resident_app: ResidentApp,
) -> None:
    _log(db, exchange_world, resident, purpose="dpop-read")
    key = new_key()
    token = _app_token(client, resident_app, resident, dpop_key=key)
    assert decode_unverified(token)["cnf"]["jkt"] == key.thumbprint()

    _refused(_usage(client, resident, f"DPoP {token}"), 401, "invalid_dpop_proof")
    _refused(_usage(client, resident, f"Bearer {token}"), 401, "invalid_token")
    stranger = dpop_proof(new_key(), "GET", FIND_USAGE_URL, access_token=token)
    _refused(_usage(client, resident, f"DPoP {token}", DPoP=stranger), 401, "invalid_dpop_proof")
    wrong_url = dpop_proof(key, "GET", f"{ISSUER}/v2/usagePeriod", access_token=token)
    _refused(_usage(client, resident, f"DPoP {token}", DPoP=wrong_url), 401, "invalid_dpop_proof")

    proof = dpop_proof(key, "GET", FIND_USAGE_URL, access_token=token)
    answer = _usage(client, resident, f"DPoP {token}", DPoP=proof)
    assert answer.status_code == 200, answer.text
    assert [u["purpose"] for u in answer.json()["usages"]] == ["dpop-read"]
    # The same proof again is a replay.
    _refused(_usage(client, resident, f"DPoP {token}", DPoP=proof), 401, "invalid_dpop_proof")


def test_a_dpop_nonce_is_asked_for_when_required(
    client: TestClient, resident: str, resident_app: ResidentApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from satu.identity.oidc import dpop

    key = new_key()
    token = _app_token(client, resident_app, resident, dpop_key=key)
    monkeypatch.setenv("SATU_OIDC_DPOP_NONCE", "always")
    dpop.dpop_settings.cache_clear()
    try:
        proof = dpop_proof(key, "GET", FIND_USAGE_URL, access_token=token)
        first = _usage(client, resident, f"DPoP {token}", DPoP=proof)
        _refused(first, 401, "use_dpop_nonce")
        nonce = first.headers["dpop-nonce"]
        retry = dpop_proof(key, "GET", FIND_USAGE_URL, access_token=token, nonce=nonce)
        answer = _usage(client, resident, f"DPoP {token}", DPoP=retry)
        assert answer.status_code == 200, answer.text
    finally:
        monkeypatch.delenv("SATU_OIDC_DPOP_NONCE")
        dpop.dpop_settings.cache_clear()


def test_heartbeat_and_usage_period(client: TestClient) -> None:
    assert client.get("/v2/heartbeat").json()["status"] == "OK"
    assert "periodStart" in client.get("/v2/usagePeriod").json()


# --- RFC 9162 inclusion proofs --------------------------------------------------------------------


def _leaf(i: int) -> bytes:
    return hashlib.sha256(b"\x00" + f"entry {i}".encode()).digest()


def _mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 13])
def test_verify_inclusion_follows_rfc_9162(size: int) -> None:
    leaves = [_leaf(i) for i in range(size)]
    root = _mth(leaves)
    for m in range(size):
        path = _path(m, leaves)
        assert tracker.verify_inclusion(
            leaf_hash=leaves[m], index=m, tree_size=size, audit_path=path, root_hash=root
        )
        assert not tracker.verify_inclusion(
            leaf_hash=_leaf(999), index=m, tree_size=size, audit_path=path, root_hash=root
        )
        if path:
            tampered = [bytes(32), *path[1:]]
            assert not tracker.verify_inclusion(
                leaf_hash=leaves[m], index=m, tree_size=size, audit_path=tampered, root_hash=root
            )
    assert not tracker.verify_inclusion(
        leaf_hash=leaves[0], index=size, tree_size=size, audit_path=[], root_hash=root
    )
