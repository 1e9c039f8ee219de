"""The providers' door: only requests the exchange signed get in; every answer is signed.

The population register runs as a real uvicorn server; requests are signed with the
`http-message-signatures` library as the gateway does, with a key from a JWKS stand-in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import (
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

from satu.providers.signing import JwksKeyResolver, KeysUnavailable
from tests.providers.conftest import FAMILY, GATEWAY_KID
from tests.providers.support import (
    GatewayKeys,
    Server,
    free_port,
    send,
    signed_request,
    verify_answer,
)

NIK = FAMILY[0][0]


def _read(population: Server, gateway_keys: GatewayKeys, **kwargs: object) -> httpx.Request:
    return signed_request(
        "POST",
        f"{population.url}/data/penduduk/1.0/read",
        key=gateway_keys.keys[GATEWAY_KID],
        kid=GATEWAY_KID,
        json={"query": {"content": {"nik": NIK}}},
        **kwargs,  # type: ignore[arg-type]
    )


def _answer_key(population: Server):  # type: ignore[no-untyped-def]
    key = population.key  # type: ignore[attr-defined]
    return key.key_id, key.private_key.public_key()


def test_a_signed_request_gets_a_signed_answer(population: Server, gateway_keys: GatewayKeys):
    request = _read(population, gateway_keys)
    response = send(request)
    assert response.status_code == 200, response.text
    assert response.json()["content"]["nik"] == NIK
    key_id, public = _answer_key(population)
    covered = verify_answer(response, key_id=key_id, public_key=public)
    assert covered['"x-road-request-id"'] == request.headers["x-road-request-id"]
    assert covered['"@status"'] == "200"
    assert '"content-type"' in covered
    assert 'keyid="' + key_id + '"' in response.headers["signature-input"]


def test_an_answer_cannot_pass_for_another_calls(population: Server, gateway_keys):
    response = send(_read(population, gateway_keys))
    headers = httpx.Headers(response.headers)
    headers["x-road-request-id"] = "another-call"
    forged = httpx.Response(response.status_code, headers=headers, content=response.content)
    key_id, public = _answer_key(population)
    with pytest.raises(InvalidSignature):
        verify_answer(forged, key_id=key_id, public_key=public)
    tampered = httpx.Response(
        response.status_code, headers=response.headers, content=response.content + b" "
    )
    with pytest.raises(InvalidSignature):
        verify_answer(tampered, key_id=key_id, public_key=public)


def test_unsigned_requests_are_refused_and_the_refusal_is_signed(population: Server):
    response = httpx.post(
        f"{population.url}/data/penduduk/1.0/read", json={"query": {"content": {"nik": NIK}}}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "not signed" in response.json()["detail"]
    key_id, public = _answer_key(population)
    HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={key_id: public}, private_keys={}),
    ).verify(response, body=response.content, require_components=("@status",))


def test_a_tampered_body_is_refused(population: Server, gateway_keys: GatewayKeys):
    request = _read(population, gateway_keys)
    tampered = httpx.Request(
        "POST",
        request.url,
        headers=request.headers,
        content=request.content.replace(NIK.encode(), FAMILY[1][0].encode()),
    )
    response = send(tampered)
    assert response.status_code == 401
    assert "Content-Digest" in response.json()["detail"]


def test_a_tampered_header_or_target_is_refused(population: Server, gateway_keys):
    request = _read(population, gateway_keys)
    headers = httpx.Headers(request.headers)
    headers["X-Road-Client"] = "ID/GOV/someone-else/app"
    changed = httpx.Request("POST", request.url, headers=headers, content=request.content)
    assert send(changed).status_code == 401
    moved = httpx.Request(
        "POST",
        str(request.url).replace("/read", "/exists"),
        headers=request.headers,
        content=request.content,
    )
    assert send(moved).status_code == 401


def test_a_replayed_request_is_refused(population: Server, gateway_keys: GatewayKeys):
    request = _read(population, gateway_keys)
    assert send(request).status_code == 200
    again = send(request)
    assert again.status_code == 401
    assert "replayed" in again.json()["detail"]


def test_an_old_signature_or_one_without_nonce_is_refused(population, gateway_keys):
    old = _read(population, gateway_keys, created=datetime.now(UTC) - timedelta(hours=1))
    response = send(old)
    assert response.status_code == 401
    assert "age" in response.json()["detail"]
    no_nonce = send(_read(population, gateway_keys, nonce=None))
    assert no_nonce.status_code == 401
    assert "nonce" in no_nonce.json()["detail"]


def test_a_key_satu_does_not_publish_is_refused(population: Server):
    stranger = Ed25519PrivateKey.generate()
    request = signed_request(
        "POST",
        f"{population.url}/data/penduduk/1.0/read",
        key=stranger,
        kid="not-published",
        json={"query": {"content": {"nik": NIK}}},
    )
    response = send(request)
    assert response.status_code == 401
    # A published kid with the wrong key: the signature itself fails.
    forged = signed_request(
        "POST",
        f"{population.url}/data/penduduk/1.0/read",
        key=stranger,
        kid=GATEWAY_KID,
        json={"query": {"content": {"nik": NIK}}},
    )
    assert send(forged).status_code == 401


def test_the_signature_must_cover_method_target_and_body(population, gateway_keys):
    key = gateway_keys.keys[GATEWAY_KID]
    url = f"{population.url}/data/penduduk/1.0/read"
    body = {"query": {"content": {"nik": NIK}}}
    for components, why in (
        (("@target-uri", "content-digest"), "@method"),
        (("@method", "content-digest"), "@target-uri"),
        (("@method", "@target-uri"), "Content-Digest"),
    ):
        request = signed_request(
            "POST", url, key=key, kid=GATEWAY_KID, json=body, components=components
        )
        response = send(request)
        assert response.status_code == 401, components
        assert why in response.json()["detail"]


def test_a_new_gateway_key_is_picked_up_without_restart(population, gateway_keys):
    key = gateway_keys.add("satu-gateway-rotated")
    request = signed_request(
        "POST",
        f"{population.url}/data/penduduk/1.0/exists",
        key=key,
        kid="satu-gateway-rotated",
        json={"query": {"content": {"nik": NIK}}},
    )
    response = send(request)
    assert response.status_code == 200, response.text
    assert response.json() == {"answer": {"status": True, "message": "Resident found"}}


def test_the_openapi_document_is_open(population: Server):
    response = httpx.get(f"{population.url}/openapi.json")
    assert response.status_code == 200
    assert "/data/penduduk/1.0/read" in response.json()["paths"]
    # ... but nothing else is: a GET of data needs the signature.
    assert httpx.get(f"{population.url}/data/penduduk/1.0").status_code == 401


def test_oversized_bodies_are_refused_before_verification(population, gateway_keys):
    request = signed_request(
        "POST",
        f"{population.url}/data/penduduk/1.0/read",
        key=gateway_keys.keys[GATEWAY_KID],
        kid=GATEWAY_KID,
        content=b"x" * 2_000_000,
        headers={"Content-Type": "application/json"},
    )
    assert send(request).status_code == 413


def test_jwks_unreachable_means_unavailable_not_accepted() -> None:
    resolver = JwksKeyResolver(f"http://127.0.0.1:{free_port()}/keys", timeout=1)
    with pytest.raises(KeysUnavailable):
        resolver.resolve_public_key("any")


def test_unknown_key_ids_refetch_at_most_once_per_floor(gateway_keys: GatewayKeys) -> None:
    resolver = JwksKeyResolver(gateway_keys.url, refresh_floor=60)  # type: ignore[attr-defined]
    assert resolver.resolve_public_key(GATEWAY_KID) is not None
    for n in range(20):
        assert resolver.resolve_public_key(f"made-up-{n}") is None
    assert resolver.fetches == 1


def test_the_door_answers_keys_unavailable_with_503(settings, provider_settings, engine):
    from satu.core.db import make_sessionmaker
    from satu.providers import service as providers

    app = providers.build_provider(
        providers.POPULATION,
        core=settings,
        prov=provider_settings,
        factory=make_sessionmaker(engine),
        keys=JwksKeyResolver(f"http://127.0.0.1:{free_port()}/keys", timeout=1),
    )
    key = Ed25519PrivateKey.generate()
    with Server(app) as server:
        request = signed_request(
            "POST",
            f"{server.url}/data/penduduk/1.0/read",
            key=key,
            kid="k",
            json={"query": {"content": {"nik": NIK}}},
        )
        assert send(request).status_code == 503
