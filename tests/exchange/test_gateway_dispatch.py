"""The gateway's own entry (`GatewayDispatch`): service calls go straight to the gateway,
past FastAPI's routing and the page middleware; the /r1 metaservices and pub/sub rooms, and
every other path, still reach their routes. Over real HTTP, with the gateway test world."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from satu.core.auth import access_of
from satu.core.middleware import API_SECURITY_HEADERS
from satu.exchange import gateway
from satu.exchange.gateway import GatewayDispatch
from tests.exchange._gateway_support import World, running_world


@pytest.fixture(scope="module")
def world(live_server, engine, settings) -> Iterator[World]:
    with running_world(
        live_server=live_server, engine=engine, settings=settings, name="dispatch"
    ) as built:
        yield built


def _scope(path: str, method: str = "GET") -> dict:
    return {"type": "http", "path": path, "method": method}


@pytest.mark.parametrize(
    ("method", "path", "service_call"),
    [
        ("GET", "/r1/ID/GOV/123/pop/persons/3273010101900001", True),
        ("POST", "/r1/ID/GOV/123/pop/persons", True),
        ("DELETE", "/r1/ID/GOV/123/pop/persons/1", True),
        # the metaservices take GET only; another method is a call of a service so named
        ("GET", "/r1/ID/GOV/123/pop/listMethods", False),
        ("GET", "/r1/ID/GOV/123/pop/allowedMethods", False),
        ("GET", "/r1/ID/GOV/123/pop/getOpenAPI", False),
        ("POST", "/r1/ID/GOV/123/pop/listMethods", True),
        # pub/sub room paths are routes; a service code `api` with another path is a call
        ("POST", "/r1/ID/GOV/123/pop/api/v1/eventType", False),
        ("GET", "/r1/ID/GOV/123/pop/pull/v1/birth", False),
        ("POST", "/r1/ID/GOV/123/pop/pub/v1/birth", False),
        ("GET", "/r1/ID/GOV/123/pop/api/persons/1", True),
        ("GET", "/r1/ID/GOV/123/pop/pub", True),
        # not the gateway's at all
        ("GET", "/r1", False),
        ("GET", "/api/v1/exchange/keys", False),
        ("TRACE", "/r1/ID/GOV/123/pop/persons", False),
    ],
)
def test_what_the_dispatch_sends_to_the_gateway(method: str, path: str, service_call: bool) -> None:
    dispatch = GatewayDispatch(app=None, owner=None)  # type: ignore[arg-type]
    assert dispatch.is_service_call(_scope(path, method)) is service_call


def test_lifespan_and_websocket_scopes_pass_by() -> None:
    dispatch = GatewayDispatch(app=None, owner=None)  # type: ignore[arg-type]
    assert not dispatch.is_service_call({"type": "lifespan"})
    assert not dispatch.is_service_call({"type": "websocket", "path": "/r1/a/b/c/d/e"})


def test_the_dispatch_declares_the_gateways_access_rule() -> None:
    assert access_of(GatewayDispatch.access) == "exchange consumer"


def test_answers_keep_request_ids_and_security_headers_and_set_no_cookies(world: World) -> None:
    response = httpx.get(
        world.url("open", "/echo"), headers={**world.headers(), "X-Request-Id": "trace-42"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "trace-42"
    for name, value in API_SECURITY_HEADERS:  # an answer for a program, not a browser
        assert response.headers[name.decode()] == value.decode()
    assert "set-cookie" not in response.headers  # no page middleware (CSRF, locale) ran
    # an unsafe incoming id is never echoed; without one of its own the consumer has the
    # call's X-Road-Request-Id (the id the gateway logs the request under)
    for extra in ({"X-Request-Id": "a b<c>"}, {}):
        response = httpx.get(world.url("open", "/echo"), headers={**world.headers(), **extra})
        assert response.status_code == 200
        assert "x-request-id" not in response.headers
        assert response.headers["x-road-request-id"]


def test_metaservices_and_other_routes_are_still_served(world: World) -> None:
    provider = world.services["open"].rsplit("/", 1)[0]
    listed = httpx.get(f"{world.gateway}/r1/{provider}/listMethods")
    assert listed.status_code == 200 and "x-road-error" not in listed.headers
    assert httpx.get(f"{world.gateway}/healthz").status_code == 200


def test_a_service_code_like_a_route_word_is_still_a_service_call(world: World) -> None:
    provider = world.services["open"].rsplit("/", 1)[0]
    response = httpx.get(f"{world.gateway}/r1/{provider}/api/x", headers=world.headers())
    assert response.status_code == 404
    assert response.headers["x-road-error"] == "Server.ClientProxy.UnknownService"
    assert [e.outcome for e in world.log_of(response.headers["x-road-id"])] == [
        "Server.ClientProxy.UnknownService"
    ]


def test_an_unexpected_failure_is_answered_x_road_style_and_logged(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug in the gateway")

    monkeypatch.setattr(gateway, "forward", broken)
    response = httpx.get(world.url("open", "/echo"), headers=world.headers())
    assert response.status_code == 500
    assert response.headers["x-road-error"] == "Server.ClientProxy.InternalError"
    assert "a bug" not in response.text  # the cause is in the server's log, not the answer
    assert [e.outcome for e in world.log_of(response.headers["x-road-id"])] == [
        "Server.ClientProxy.InternalError"
    ]


def test_a_backends_cookies_never_reach_the_consumer_or_the_next_call(world: World) -> None:
    """The gateway keeps no cookie jar: what a backend sets for one call is not sent with the
    next (another consumer's, perhaps), and the consumer never sees it."""
    first = httpx.get(world.url("open", "/set-cookie"), headers=world.headers())
    assert first.status_code == 200 and "set-cookie" not in first.headers
    for _ in range(10):  # past every pooled connection of the gateway
        httpx.get(world.url("open", "/echo"), headers=world.headers())
    for call in world.provider_seen[-10:]:
        assert b"cookie" not in {name.lower() for name, _ in call["headers"]}


def test_a_backends_own_request_id_does_not_reach_the_consumer() -> None:
    from satu.exchange.forwarding import answer_headers

    lines = answer_headers(
        httpx.Headers([("X-Request-Id", "provider-internal-7"), ("Content-Type", "text/plain")])
    )
    assert lines == [(b"content-type", b"text/plain")]
