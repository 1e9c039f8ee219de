"""The gateway over real HTTP: a provider backend on loopback, the gateway as a live server.

Each refusal answers X-Road's `{type, message, detail}` with `X-Road-Error`, and every call,
refused or not, is in the transparency log with the error type as its outcome.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from satu.core.db import make_sessionmaker, transaction
from satu.exchange import keys, transparency
from satu.exchange import signatures as sig
from satu.exchange.models import LogEntry
from satu.exchange.schemas import KeyInfo
from tests.exchange._gateway_support import (
    MANDATE_PURPOSE,
    REBIND_HOST,
    World,
    raw_public,
    running_world,
)


@pytest.fixture(scope="module")
def world(live_server, engine, settings) -> Iterator[World]:
    with running_world(
        live_server=live_server, engine=engine, settings=settings, name="provider"
    ) as built:
        yield built


def _refused(response: httpx.Response, world: World, type_: str, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["x-road-error"] == type_
    body = response.json()
    assert body["type"] == type_ and body["message"] and body["detail"]
    return body


def _logged(world: World, response: httpx.Response, outcome: str) -> None:
    entries = world.log_of(response.headers["x-road-id"])
    assert [e.outcome for e in entries] == [outcome]


def _consumer_key_info(world: World) -> KeyInfo:
    return KeyInfo(
        key_id=world.consumer_key[0],
        member_class="",
        member_code="",
        public_key=raw_public(world.consumer_key[1]),
    )


# --- the happy path ------------------------------------------------------------------------


def test_call_with_consent_reaches_the_provider_signed_and_is_logged(world: World) -> None:
    headers = world.headers(
        **{"X-Road-UserId": f"ID{world.nik_consented}", "X-Road-Issue": "BANSOS-7"}
    )
    response = httpx.get(
        world.url("persons", f"/persons/{world.nik_consented}?full=1"), headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"nik": world.nik_consented, "name": "Siti Aminah"}
    # X-Road response headers.
    assert response.headers["x-road-client"] == world.consumer
    assert response.headers["x-road-service"] == world.services["persons"]
    assert response.headers["x-road-id"] == headers["X-Road-Id"]
    assert response.headers["x-road-request-id"]
    assert len(base64.b64decode(response.headers["x-road-request-hash"])) == 64
    assert "x-road-error" not in response.headers
    # The provider saw the path, query, X-Road headers and purpose, never the token.
    seen = world.provider_seen[-1]
    assert seen["raw_path"] == f"/persons/{world.nik_consented}" and seen["query"] == "full=1"
    got = {k.decode().lower(): v.decode() for k, v in seen["headers"]}
    assert got["x-road-client"] == world.consumer
    assert got["x-road-purpose"] == "bansos-eligibility"
    assert got["x-road-issue"] == "BANSOS-7"
    assert got["x-road-userid"] == f"ID{world.nik_consented}"
    assert "authorization" not in got and "signature" in got
    # The forwarded request is signed by the consumer member's hosted key (checked via JWKS
    # in the independent test; here: it covers the digest and X-Road headers).
    assert (
        '"x-road-userid"' in got["signature-input"] and '"content-digest"' in got["signature-input"]
    )
    # The answer is signed by the provider member's hosted key: verify with the public key.
    keyid = response.headers["signature-input"].split('keyid="', 1)[1].split('"', 1)[0]
    with transaction(make_sessionmaker(world.engine)) as session:
        info = keys.public_key(session=session, key_id=keyid)
    assert info is not None and info.hosted and info.member_code == "kemendukbangga"
    verified = sig.verify_response(
        status=200, headers=response.headers, body=response.content, lookup=lambda k: info
    )
    assert "x-road-request-hash" in verified.covered
    # Logged, with the lawful basis and digests, not the NIK.
    [entry] = world.log_of(headers["X-Road-Id"])
    assert entry.outcome == "ok" and entry.purpose == "bansos-eligibility"
    assert entry.subject_key and world.nik_consented not in entry.entry.decode()
    assert b"consent:" in entry.entry


def test_concurrent_calls_are_each_logged_once_before_their_answer(world: World) -> None:
    """Calls ending together share a log commit (group commit); each is still logged, once,
    with gap-free indexes, and refused calls mixed in are logged too."""

    async def many() -> list[tuple[dict, httpx.Response]]:
        async with httpx.AsyncClient(timeout=30) as client:

            async def one(i: int) -> tuple[dict, httpx.Response]:
                purpose = MANDATE_PURPOSE if i % 4 else "not-a-mandate"
                headers = world.headers(
                    **{"X-Road-UserId": f"ID{world.nik_no_consent}", "X-Road-Purpose": purpose}
                )
                url = world.url("persons", f"/persons/{world.nik_no_consent}")
                return headers, await client.get(url, headers=headers)

            return await asyncio.gather(*(one(i) for i in range(40)))

    indexes = []
    for headers, response in asyncio.run(many()):
        ok = headers["X-Road-Purpose"] == MANDATE_PURPOSE
        assert response.status_code == (200 if ok else 403), response.text
        [entry] = world.log_of(headers["X-Road-Id"])
        assert entry.outcome == ("ok" if ok else "Client.NoLawfulBasis")
        indexes.append(entry.idx)
    with transaction(make_sessionmaker(world.engine)) as session:
        size = transparency.tree_size(session=session)
        stored = session.scalars(select(LogEntry.idx).where(LogEntry.idx >= min(indexes)))
        assert sorted(stored) == list(range(min(indexes), size))


def test_mandate_is_a_lawful_basis_without_consent(world: World) -> None:
    headers = world.headers(
        **{"X-Road-UserId": f"ID{world.nik_no_consent}", "X-Road-Purpose": MANDATE_PURPOSE}
    )
    response = httpx.get(world.url("persons", f"/persons/{world.nik_no_consent}"), headers=headers)
    assert response.status_code == 200, response.text
    [entry] = world.log_of(headers["X-Road-Id"])
    assert entry.outcome == "ok" and b"mandate:" in entry.entry


def test_body_goes_through_unchanged_and_request_hash_binds_it(world: World) -> None:
    body = bytes(range(256)) * 3
    headers = world.headers(**{"Content-Type": "application/octet-stream"})
    response = httpx.post(world.url("open", "/echo"), headers=headers, content=body)
    assert response.status_code == 200 and response.content == body
    assert response.headers["content-digest"] == sig.content_digest(body)


# --- refusals, each logged -----------------------------------------------------------------


def test_missing_token_is_unauthorized(world: World) -> None:
    headers = world.headers(Authorization="")
    response = httpx.get(world.url("open", "/echo"), headers=headers)
    _refused(response, world, "Client.Unauthorized", 401)
    _logged(world, response, "Client.Unauthorized")


def test_forged_token_is_unauthorized(world: World) -> None:
    headers = world.headers(Authorization="Bearer eyJhbGciOiJFUzI1NiJ9.e30.AAAA")
    response = httpx.get(world.url("open", "/echo"), headers=headers)
    _refused(response, world, "Client.Unauthorized", 401)
    _logged(world, response, "Client.Unauthorized")


def test_missing_or_mismatched_x_road_client(world: World) -> None:
    response = httpx.get(world.url("open", "/echo"), headers=world.headers(**{"X-Road-Client": ""}))
    body = _refused(response, world, response.headers["x-road-error"], response.status_code)
    assert response.status_code in (400, 401) and body["type"].startswith("Client.")
    _logged(world, response, body["type"])
    response = httpx.get(
        world.url("open", "/echo"), headers=world.headers(**{"X-Road-Client": world.consumer_other})
    )
    _refused(response, world, "Client.Unauthorized", 401)
    _logged(world, response, "Client.Unauthorized")


def test_consumer_without_access_right_is_denied(world: World) -> None:
    response = httpx.get(world.url("open", "/echo"), headers=world.headers("consumer_other"))
    _refused(response, world, "Client.AccessDenied", 403)
    _logged(world, response, "Client.AccessDenied")


def test_unexposed_operation_and_unknown_service(world: World) -> None:
    headers = world.headers(**{"X-Road-UserId": f"ID{world.nik_consented}"})
    response = httpx.delete(
        world.url("persons", f"/persons/{world.nik_consented}"), headers=headers
    )
    _refused(response, world, "Client.AccessDenied", 403)
    _logged(world, response, "Client.AccessDenied")
    unknown = world.url("open").rsplit("/", 1)[0] + "/nope/x"
    response = httpx.get(unknown, headers=world.headers())
    _refused(response, world, "Server.ClientProxy.UnknownService", 404)
    _logged(world, response, "Server.ClientProxy.UnknownService")
    response = httpx.get(f"{world.gateway}/r1/ID/only-three/parts", headers=world.headers())
    _refused(response, world, "Client.BadRequest", 400)
    _logged(world, response, "Client.BadRequest")


def test_purpose_is_required(world: World) -> None:
    for purpose in ("", "no spaces allowed", "x" * 101, "-leading-dash"):
        response = httpx.get(
            world.url("open", "/echo"), headers=world.headers(**{"X-Road-Purpose": purpose})
        )
        _refused(response, world, "Client.MissingPurpose", 400)
        _logged(world, response, "Client.MissingPurpose")


@pytest.mark.parametrize(
    "user_id", ["", "ID123", "3273010101900001x", "ID9999999999999999", "ID3273013201900001"]
)
def test_personal_data_needs_a_valid_nik(world: World, user_id: str) -> None:
    headers = world.headers(**{"X-Road-UserId": user_id})
    response = httpx.get(world.url("persons", "/persons/3273010101900001"), headers=headers)
    _refused(response, world, "Client.MissingUserId", 400)
    _logged(world, response, "Client.MissingUserId")


def test_no_consent_and_no_mandate_is_refused(world: World) -> None:
    headers = world.headers(**{"X-Road-UserId": f"ID{world.nik_no_consent}"})
    response = httpx.get(world.url("persons", f"/persons/{world.nik_no_consent}"), headers=headers)
    _refused(response, world, "Client.NoLawfulBasis", 403)
    [entry] = world.log_of(headers["X-Road-Id"])
    assert entry.outcome == "Client.NoLawfulBasis" and entry.subject_key


def test_oversized_bodies_are_refused(world: World) -> None:
    response = httpx.post(world.url("small", "/echo"), headers=world.headers(), content=b"x" * 2000)
    _refused(response, world, "Client.BodyTooLarge", 413)
    _logged(world, response, "Client.BodyTooLarge")
    huge = b"x" * (10 * 1024 * 1024 + 1)
    response = httpx.post(world.url("open", "/echo"), headers=world.headers(), content=huge)
    _refused(response, world, "Client.BodyTooLarge", 413)
    _logged(world, response, "Client.BodyTooLarge")


# --- consumer signatures -------------------------------------------------------------------


def _signed_call(
    world: World, *, body: bytes = b'{"q":1}', created=None, tamper=None
) -> httpx.Response:
    request = httpx.Request(
        "POST",
        world.url("open", "/echo"),
        headers={**world.headers("consumer_signed"), "Content-Type": "application/json"},
        content=body,
    )
    key_id, key = world.consumer_key
    sig.sign_request(request, key_id=key_id, private_key=key, body=body, created=created)
    if tamper:
        tamper(request)
    with httpx.Client() as client:
        return client.send(request)


def test_signed_consumer_call_passes_once_and_replay_is_refused(world: World) -> None:
    request = httpx.Request(
        "POST",
        world.url("open", "/echo"),
        headers={**world.headers("consumer_signed"), "Content-Type": "application/json"},
        content=b"[1]",
    )
    key_id, key = world.consumer_key
    sig.sign_request(request, key_id=key_id, private_key=key, body=b"[1]")
    with httpx.Client() as client:
        first = client.send(request)
        assert first.status_code == 200, first.text
        again = client.send(request)
    body = _refused(again, world, "Client.InvalidSignature", 400)
    assert "replayed" in body["message"]
    entries = world.log_of(request.headers["x-road-id"])
    assert [e.outcome for e in entries] == ["ok", "Client.InvalidSignature"]


def test_unsigned_call_of_a_signing_subsystem_is_refused(world: World) -> None:
    response = httpx.post(
        world.url("open", "/echo"), headers=world.headers("consumer_signed"), content=b"[]"
    )
    body = _refused(response, world, "Client.InvalidSignature", 400)
    assert "no HTTP Message Signature" in body["message"]
    _logged(world, response, "Client.InvalidSignature")


@pytest.mark.parametrize("what", ["body", "purpose", "user"])
def test_tampered_signed_calls_are_refused(world: World, what: str) -> None:
    def tamper(request: httpx.Request) -> None:
        if what == "body":
            request.stream = httpx.ByteStream(b'{"q":2}')
            request._content = b'{"q":2}'
        elif what == "purpose":
            request.headers["X-Road-Purpose"] = "marketing"
        else:
            request.headers["X-Road-UserId"] = "ID3273010101900001"

    response = _signed_call(world, tamper=tamper)
    body = _refused(response, world, "Client.InvalidSignature", 400)
    expected = {"body": "Content-Digest", "purpose": "does not verify", "user": "not covered"}
    assert expected[what] in body["message"]
    _logged(world, response, "Client.InvalidSignature")


def test_stale_signature_is_refused(world: World) -> None:
    response = _signed_call(world, created=datetime.now(UTC) - timedelta(seconds=400))
    body = _refused(response, world, "Client.InvalidSignature", 400)
    assert "older than" in body["message"]
    _logged(world, response, "Client.InvalidSignature")


# --- the provider side ---------------------------------------------------------------------


def test_provider_timeout(world: World) -> None:
    response = httpx.get(world.url("slow", "/slow"), headers=world.headers(), timeout=10)
    _refused(response, world, "Server.ServerProxy.ServiceTimeout", 504)
    _logged(world, response, "Server.ServerProxy.ServiceTimeout")


def test_malformed_and_oversized_provider_answers(world: World) -> None:
    for path in ("/bad-json", "/big"):
        service = "small" if path == "/big" else "open"
        response = httpx.get(world.url(service, path), headers=world.headers())
        _refused(response, world, "Server.ServerProxy.MalformedResponse", 502)
        _logged(world, response, "Server.ServerProxy.MalformedResponse")


def test_provider_errors_pass_through(world: World) -> None:
    response = httpx.get(world.url("open", "/fail"), headers=world.headers())
    assert response.status_code == 500 and response.json() == {"error": "boom"}
    assert "x-road-error" not in response.headers
    _logged(world, response, "ok")


def test_provider_signatures_are_checked_when_it_signs(world: World) -> None:
    response = httpx.get(world.url("signed", "/signed"), headers=world.headers())
    assert response.status_code == 200 and response.json() == {"signed": True}
    for path in ("/badly-signed", "/unsigned"):
        response = httpx.get(world.url("signed", path), headers=world.headers())
        _refused(response, world, "Server.ServerProxy.InvalidSignature", 502)
        _logged(world, response, "Server.ServerProxy.InvalidSignature")


def test_repeated_answer_headers_all_reach_the_consumer(world: World) -> None:
    response = httpx.get(world.url("open", "/repeated-headers"), headers=world.headers())
    assert response.status_code == 200, response.text
    assert response.headers.get_list("link") == ["</a>; rel=a", "</b>; rel=b"]
    assert response.headers["content-length"] == str(len(response.content))
    assert len(response.headers.get_list("x-road-request-id")) == 1


def test_headers_that_cannot_be_signed_are_refused_clearly(world: World) -> None:
    """A signed field holding a byte RFC 9421 cannot cover (here obs-text, which HTTP allows):
    from the provider it is a malformed answer, from the consumer a bad request; both logged,
    never an internal error."""
    response = httpx.get(world.url("open", "/unsignable-header"), headers=world.headers())
    body = _refused(response, world, "Server.ServerProxy.MalformedResponse", 502)
    assert "cannot be signed" in body["message"]
    _logged(world, response, "Server.ServerProxy.MalformedResponse")

    seen = len(world.provider_seen)
    headers = {**world.headers(), "Content-Type": "text/plain; note=caf\xe9".encode("latin-1")}
    response = httpx.post(world.url("open", "/echo"), headers=headers, content=b"x")
    _refused(response, world, "Client.BadRequest", 400)
    _logged(world, response, "Client.BadRequest")
    assert len(world.provider_seen) == seen  # nothing reached the provider


def test_answers_must_echo_this_calls_ids(world: World) -> None:
    cases = [
        ("signed", "/signed-no-echo", "does not echo X-Road-Request-Id"),
        ("signed", "/signed-other-call", "another call's x-road-request-id"),
        ("open", "/echo-other-transaction", "another call's x-road-id"),
    ]
    for service, path, message in cases:
        response = httpx.get(world.url(service, path), headers=world.headers())
        body = _refused(response, world, "Server.ServerProxy.MalformedResponse", 502)
        assert message in body["message"]
        _logged(world, response, "Server.ServerProxy.MalformedResponse")


def test_provider_down_opens_the_breaker(world: World) -> None:
    from satu.exchange.breaker import FAILURE_THRESHOLD

    types = []
    for _ in range(FAILURE_THRESHOLD + 2):
        response = httpx.get(world.url("down", "/x"), headers=world.headers(), timeout=10)
        types.append(response.headers["x-road-error"])
        _logged(world, response, types[-1])
    assert types[:FAILURE_THRESHOLD] == ["Server.ServerProxy.ServiceFailed"] * FAILURE_THRESHOLD
    assert types[FAILURE_THRESHOLD:] == ["Server.ServerProxy.ServiceUnavailable"] * 2
    assert response.status_code == 503


def test_a_consumer_over_its_rate_limit_is_refused_and_logged(world: World) -> None:
    from tests.exchange._gateway_support import LIMITED_PER_MINUTE

    headers = [world.headers("consumer_limited") for _ in range(LIMITED_PER_MINUTE + 2)]
    answers = [httpx.get(world.url("open", "/echo"), headers=h) for h in headers]
    assert [a.status_code for a in answers] == [200] * LIMITED_PER_MINUTE + [429, 429]
    refused = answers[-1]
    body = _refused(refused, world, "Client.RateLimited", 429)
    assert world.consumer_limited in body["message"]
    assert "retry in" in body["message"]
    _logged(world, refused, "Client.RateLimited")
    # another consumer of the same agency keeps its own count
    assert httpx.get(world.url("open", "/echo"), headers=world.headers()).status_code == 200


def test_metrics_count_calls_per_service(world: World) -> None:
    httpx.get(world.url("open", "/echo"), headers=world.headers())
    text = httpx.get(f"{world.gateway}/metrics").text
    service = world.services["open"]
    assert f'satu_exchange_calls_total{{outcome="ok",service="{service}"}}' in text
    assert "satu_exchange_call_duration_seconds_bucket" in text


def test_request_hash_is_sha512_of_head_and_body(world: World) -> None:
    headers = world.headers()
    response = httpx.post(world.url("open", "/echo"), headers=headers, content=b"abc")
    assert response.status_code == 200
    digest = base64.b64decode(response.headers["x-road-request-hash"])
    assert len(digest) == hashlib.sha512().digest_size


def test_independent_library_verifies_the_gateways_signatures(world: World) -> None:
    from tests.exchange.test_signatures_npm import ensure_sigcheck, jwk_of, verify_with_node

    node = ensure_sigcheck()
    headers = world.headers(**{"X-Road-UserId": f"ID{world.nik_consented}"})
    response = httpx.get(world.url("persons", f"/persons/{world.nik_consented}"), headers=headers)
    assert response.status_code == 200
    seen = world.provider_seen[-1]
    forwarded = {k.decode().lower(): v.decode() for k, v in seen["headers"]}

    def key_of(signature_input: str) -> dict:
        key_id = signature_input.split('keyid="', 1)[1].split('"', 1)[0]
        with transaction(make_sessionmaker(world.engine)) as session:
            info = keys.public_key(session=session, key_id=key_id)
        assert info is not None
        return jwk_of(key_id, info.public_key)

    cases = [
        {
            "kind": "request",
            "method": "GET",
            "url": seen["url"],
            "headers": forwarded,
            "body_b64": "",
            "jwk": key_of(forwarded["signature-input"]),
        },
        {
            "kind": "response",
            "status": 200,
            "headers": dict(response.headers.items()),
            "body_b64": base64.b64encode(response.content).decode(),
            "jwk": key_of(response.headers["signature-input"]),
        },
    ]
    assert [r["ok"] for r in verify_with_node(node, cases)] == [True, True]


# --- the backend's address is checked again at each new connection ----------------------------


def test_base_url_resolving_to_a_forbidden_address_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registration saw a public address; later DNS answers are checked again when forwarding,
    and the connection goes to the checked address (the name exists in no real DNS)."""
    from satu.core.config import get_settings
    from satu.exchange import forwarding, urlguard

    answer: list[str] = ["93.184.216.34"]
    lookups: list[str] = []

    def resolve(host: str, port: int) -> list[urlguard.IPAddress]:
        lookups.append(host)
        return [ipaddress.ip_address(answer[0])]

    monkeypatch.setattr(urlguard, "resolve", resolve)
    forwarding._resolved.clear()
    base_url = f"http://{REBIND_HOST}:9/"
    urlguard.check_url(base_url)  # what registration checks: allowed
    seen = len(world.provider_seen)

    # Link-local (cloud metadata): always refused.
    answer[0] = "169.254.169.254"
    response = httpx.get(world.url("rebind", "/echo"), headers=world.headers(), timeout=10)
    body = _refused(response, world, "Server.ServerProxy.ServiceFailed", 502)
    assert "link-local" in body["message"] and "169.254" not in body["message"]
    _logged(world, response, "Server.ServerProxy.ServiceFailed")

    # Loopback, with private addresses disallowed (production): refused, the backend not called.
    forwarding._resolved.clear()
    answer[0] = "127.0.0.1"
    monkeypatch.setenv("SATU_EXCHANGE_ALLOW_PRIVATE_URLS", "false")
    get_settings.cache_clear()
    try:
        response = httpx.get(world.url("rebind", "/echo"), headers=world.headers(), timeout=10)
    finally:
        monkeypatch.delenv("SATU_EXCHANGE_ALLOW_PRIVATE_URLS")
        get_settings.cache_clear()
    body = _refused(response, world, "Server.ServerProxy.ServiceFailed", 502)
    assert "loopback" in body["message"]
    _logged(world, response, "Server.ServerProxy.ServiceFailed")
    assert len(world.provider_seen) == seen

    # Allowed (test settings): the call reaches the checked address, Host still the name; the
    # resolution is cached, so further calls do no lookup.
    forwarding._resolved.clear()
    lookups.clear()
    for _ in range(3):
        response = httpx.post(
            world.url("rebind", "/echo"), headers=world.headers(), content=b"hi", timeout=10
        )
        assert response.status_code == 200 and response.content == b"hi"
    host = dict(world.provider_seen[-1]["headers"])[b"host"].decode()
    assert host.startswith(REBIND_HOST + ":")
    assert lookups == [REBIND_HOST]
