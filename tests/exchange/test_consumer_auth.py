"""Consumer authentication: a client_credentials token of a registered subsystem + X-Road-Client."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from satu.exchange import registry
from satu.exchange.consumer_auth import authenticate_consumer
from satu.exchange.xroad import XRoadError
from tests.exchange.conftest import ADMIN, issue_token, make_oidc_client


def _request(headers: list[tuple[str, str]]) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/r1/ID/GOV/x/y/z",
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        }
    )


def _refused(db, headers, kind: str) -> XRoadError:
    with pytest.raises(XRoadError) as caught:
        authenticate_consumer(session=db, request=_request(headers))
    assert caught.value.type == kind, caught.value.message
    return caught.value


def test_the_token_and_header_must_agree(client, db, exchange_world) -> None:
    consumer = exchange_world.consumer
    token = issue_token(client, consumer)
    auth = ("Authorization", f"Bearer {token}")
    who = authenticate_consumer(
        session=db, request=_request([auth, ("X-Road-Client", consumer.xroad_id)])
    )
    assert who == consumer.subsystem
    # Header missing, repeated, malformed.
    _refused(db, [auth], "Client.BadRequest")
    _refused(
        db,
        [auth, ("X-Road-Client", consumer.xroad_id), ("X-Road-Client", consumer.xroad_id)],
        "Client.BadRequest",
    )
    for bad in ["ID/GOV/kemensos", "ID/GOV/kemensos/dtks/extra", "ID/GOV/kem%2Fensos/dtks", ""]:
        _refused(db, [auth, ("X-Road-Client", bad)], "Client.BadRequest")
    # Another subsystem, even of the same member, or another instance.
    for other in [
        exchange_world.provider.xroad_id,
        "ID/GOV/kemensos/other",
        "XX/GOV/kemensos/dtks",
    ]:
        _refused(db, [auth, ("X-Road-Client", other)], "Client.Unauthorized")
    # Token missing, wrong scheme, tampered, too long.
    header = ("X-Road-Client", consumer.xroad_id)
    _refused(db, [header], "Client.Unauthorized")
    _refused(db, [header, ("Authorization", f"Basic {token}")], "Client.Unauthorized")
    _refused(db, [header, ("Authorization", f"DPoP {token}")], "Client.Unauthorized")
    _refused(db, [header, ("Authorization", "Bearer")], "Client.Unauthorized")
    _refused(db, [header, ("Authorization", f"Bearer {token[:-3]}abc")], "Client.Unauthorized")
    _refused(db, [header, ("Authorization", "Bearer " + "a" * 9000)], "Client.Unauthorized")
    error = _refused(db, [header, ("Authorization", "Bearer nonsense")], "Client.Unauthorized")
    assert token not in error.message


def test_unlinked_disabled_and_foreign_clients_are_refused(
    client, db, settings, exchange_world
) -> None:
    consumer = exchange_world.consumer
    token = issue_token(client, consumer)
    headers = [("Authorization", f"Bearer {token}"), ("X-Road-Client", consumer.xroad_id)]
    registry.update_subsystem(
        session=db, actor=ADMIN, subsystem_id=consumer.subsystem.id, enabled=False
    )
    _refused(db, headers, "Client.Unauthorized")
    registry.update_subsystem(
        session=db, actor=ADMIN, subsystem_id=consumer.subsystem.id, enabled=True
    )
    registry.set_subsystem_client(
        session=db, actor=ADMIN, subsystem_id=consumer.subsystem.id, client_id=None
    )
    _refused(db, headers, "Client.Unauthorized")
    # A client of another agency linked to this subsystem does not make it that subsystem.
    foreign_id, foreign_secret = make_oidc_client(db, settings, "kemenkes")
    registry.set_subsystem_client(
        session=db, actor=ADMIN, subsystem_id=consumer.subsystem.id, client_id=foreign_id
    )
    db.commit()
    foreign = type(consumer)(consumer.subsystem, foreign_id, foreign_secret)
    foreign_token = issue_token(client, foreign)
    _refused(
        db,
        [("Authorization", f"Bearer {foreign_token}"), ("X-Road-Client", consumer.xroad_id)],
        "Client.Unauthorized",
    )
