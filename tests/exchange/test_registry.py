"""The registry: subsystems, services, operations, rights, mandates and who may change them."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from satu.core.db import utcnow
from satu.core.errors import Problem
from satu.exchange import registry
from satu.exchange.registry_openapi import find_operation, template_matches
from satu.exchange.schemas import Actor, OperationInfo
from satu.exchange.xroad import ClientId, ServiceId, split_service_path
from satu.identity import service as identity
from tests.exchange.conftest import (
    ADMIN,
    CONSUMER_AGENCY,
    OTHER_AGENCY,
    POPULATION_OPENAPI,
    PROVIDER_AGENCY,
)

DUKCAPIL_OFFICER = Actor(name="account:dukcapil", agency_ids=(PROVIDER_AGENCY,))
KEMENSOS_OFFICER = Actor(name="account:kemensos", agency_ids=(CONSUMER_AGENCY,))


def _problem(call, slug: str) -> Problem:
    with pytest.raises(Problem) as caught:
        call()
    assert caught.value.slug == slug, caught.value.detail
    return caught.value


def test_unit_subsystem_belongs_to_its_parent_member(db) -> None:
    info = registry.register_subsystem(
        session=db, actor=DUKCAPIL_OFFICER, agency_id=PROVIDER_AGENCY, subsystem_code="sim"
    )
    assert (info.member_class, info.member_code, info.agency_id) == (
        "GOV",
        "kemendagri",
        PROVIDER_AGENCY,
    )
    assert info.xroad_id == "ID/GOV/kemendagri/sim" and info.enabled
    assert registry.resolve_client(session=db, client=ClientId.parse(info.xroad_id)) == info
    # Another instance is not ours.
    assert (
        registry.resolve_client(session=db, client=ClientId("XX", "GOV", "kemendagri", "sim"))
        is None
    )
    audit = identity.list_audit(session=db, action="exchange.subsystem.registered")
    assert audit[0].actor == "account:dukcapil" and audit[0].target == "subsystem:" + info.xroad_id


def test_subsystem_bad_paths(db) -> None:
    make = registry.register_subsystem
    _problem(
        lambda: make(session=db, actor=ADMIN, agency_id="nope", subsystem_code="a"), "not-found"
    )
    _problem(
        lambda: make(session=db, actor=ADMIN, agency_id="kemensos", subsystem_code="a/b"),
        "validation-error",
    )
    _problem(
        lambda: make(session=db, actor=ADMIN, agency_id="kemensos", subsystem_code="x" * 65),
        "validation-error",
    )
    _problem(
        lambda: make(
            session=db, actor=ADMIN, agency_id="kemensos", subsystem_code="a", name="\x00"
        ),
        "validation-error",
    )
    _problem(
        lambda: make(
            session=db, actor=KEMENSOS_OFFICER, agency_id=OTHER_AGENCY, subsystem_code="a"
        ),
        "forbidden",
    )
    make(session=db, actor=KEMENSOS_OFFICER, agency_id="kemensos", subsystem_code="a")
    _problem(
        lambda: make(session=db, actor=ADMIN, agency_id="kemensos", subsystem_code="a"), "conflict"
    )
    # Still usable after the refused duplicate (nothing half-stored).
    assert [
        s.subsystem_code for s in registry.list_subsystems(session=db, agency_id="kemensos")
    ] == ["a"]


def test_client_link_is_unique_and_checked(db) -> None:
    a = registry.register_subsystem(
        session=db, actor=ADMIN, agency_id="kemensos", subsystem_code="a", client_id="cid-1"
    )
    b = registry.register_subsystem(
        session=db, actor=ADMIN, agency_id="kemensos", subsystem_code="b"
    )
    assert registry.subsystem_for_client_id(session=db, client_id="cid-1") == a
    assert registry.subsystem_for_client_id(session=db, client_id="x" * 500) is None
    _problem(
        lambda: registry.set_subsystem_client(
            session=db, actor=ADMIN, subsystem_id=b.id, client_id="cid-1"
        ),
        "conflict",
    )
    _problem(
        lambda: registry.set_subsystem_client(
            session=db, actor=ADMIN, subsystem_id=b.id, client_id="bad id"
        ),
        "validation-error",
    )
    _problem(
        lambda: registry.set_subsystem_client(
            session=db, actor=DUKCAPIL_OFFICER, subsystem_id=b.id, client_id="cid-2"
        ),
        "forbidden",
    )
    linked = registry.set_subsystem_client(
        session=db, actor=KEMENSOS_OFFICER, subsystem_id=b.id, client_id="cid-2"
    )
    assert linked.client_id == "cid-2"
    unlinked = registry.set_subsystem_client(
        session=db, actor=ADMIN, subsystem_id=a.id, client_id=None
    )
    assert unlinked.client_id is None
    assert registry.subsystem_for_client_id(session=db, client_id="cid-1") is None


def _provider(db):
    return registry.register_subsystem(
        session=db, actor=ADMIN, agency_id=PROVIDER_AGENCY, subsystem_code="pop"
    )


def test_register_service_and_resolve(db) -> None:
    provider = _provider(db)
    service = registry.register_service(
        session=db,
        actor=DUKCAPIL_OFFICER,
        subsystem_id=provider.id,
        service_code="population",
        base_url="https://backend.dukcapil.example/api/",
        openapi=POPULATION_OPENAPI,
        operations=["GET /persons/{nik}", {"method": "post", "path": "/persons/search"}],
    )
    assert service.base_url == "https://backend.dukcapil.example/api"
    assert service.title == "Population register"
    assert [(o.method, o.path, o.operation_id) for o in service.operations] == [
        ("GET", "/persons/{nik}", "getPerson"),
        ("POST", "/persons/search", "searchPersons"),
    ]
    sid, rest = split_service_path("/ID/GOV/kemendagri/pop/population/persons/1234")
    assert registry.resolve_service(session=db, service=sid) == service
    assert rest == "/persons/1234"
    assert (
        registry.resolve_service(
            session=db, service=ServiceId(ClientId("ID", "GOV", "kemendagri", "pop"), "other")
        )
        is None
    )
    assert (
        registry.resolve_service(
            session=db,
            service=ServiceId(ClientId("ID", "GOV", "kemendagri", "pop"), "population", "v1"),
        )
        is None
    )
    assert registry.get_openapi(session=db, service_id=service.id) == POPULATION_OPENAPI


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://x.example/",
        "/relative",
        "http://",
        "https://user:pw@x.example/",
        "https://x.example/?q=1",
        "https://x.example/#f",
        "https://x.example:99999/",
        "https://x.example/ a",
        "https://x.example/" + "a" * 500,
        None,
        42,
    ],
)
def test_bad_base_urls_are_refused(db, url) -> None:
    provider = _provider(db)
    _problem(
        lambda: registry.register_service(
            session=db,
            actor=ADMIN,
            subsystem_id=provider.id,
            service_code="s",
            base_url=url,
            openapi=POPULATION_OPENAPI,
        ),
        "validation-error",
    )


def _with(**changes):
    doc = copy.deepcopy(POPULATION_OPENAPI)
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        "openapi: 3.0.0",
        {"swagger": "2.0", "paths": {"/a": {"get": {}}}},
        _with(openapi="2.0"),
        _with(openapi=3),
        _with(paths={}),
        _with(paths=[]),
        _with(paths={"a": {"get": {}}}),
        _with(paths={"/a/{b": {"get": {}}}),
        _with(paths={"/a/{b}/{b}": {"get": {}}}),
        _with(paths={"/a/../b": {"get": {}}}),
        _with(paths={"/a": {"get": "nope"}}),
        _with(paths={"/a": {"parameters": []}}),
        _with(paths={"/a": "x"}),
        _with(paths={"/a b": {"get": {}}}),
        _with(info={"title": "x" * 3_000_000}),
        _with(x=float("nan")),
    ],
)
def test_bad_openapi_documents_are_refused(db, document) -> None:
    provider = _provider(db)
    _problem(
        lambda: registry.register_service(
            session=db,
            actor=ADMIN,
            subsystem_id=provider.id,
            service_code="s",
            base_url="http://127.0.0.1:9000",
            openapi=document,
        ),
        "validation-error",
    )


@pytest.mark.parametrize(
    "operations",
    [["DELETE /persons/{nik}"], ["GET /nope"], ["FETCH /persons/{nik}"], [42], ["GET"]],
)
def test_operations_must_be_in_the_document(db, operations) -> None:
    provider = _provider(db)
    _problem(
        lambda: registry.register_service(
            session=db,
            actor=ADMIN,
            subsystem_id=provider.id,
            service_code="s",
            base_url="http://127.0.0.1:9000",
            openapi=POPULATION_OPENAPI,
            operations=operations,
        ),
        "validation-error",
    )


def test_service_rules_for_officers_and_duplicates(db) -> None:
    provider = _provider(db)

    def register(actor, code="s"):
        return registry.register_service(
            session=db,
            actor=actor,
            subsystem_id=provider.id,
            service_code=code,
            base_url="http://127.0.0.1:9000",
            openapi=POPULATION_OPENAPI,
        )

    _problem(lambda: register(KEMENSOS_OFFICER), "forbidden")
    _problem(lambda: register(Actor(name="account:nobody")), "forbidden")
    service = register(DUKCAPIL_OFFICER)
    _problem(lambda: register(ADMIN), "conflict")
    _problem(
        lambda: registry.update_service(
            session=db, actor=KEMENSOS_OFFICER, service_id=service.id, enabled=False
        ),
        "forbidden",
    )
    _problem(
        lambda: registry.update_service(session=db, actor=ADMIN, service_id=999999), "not-found"
    )
    _problem(
        lambda: registry.update_service(
            session=db, actor=ADMIN, service_id=service.id, timeout_ms=1
        ),
        "validation-error",
    )
    off = registry.disable_service(session=db, actor=DUKCAPIL_OFFICER, service_id=service.id)
    assert off.enabled is False


def test_match_operation_templates() -> None:
    ops = [
        OperationInfo(method="GET", path="/persons/{nik}"),
        OperationInfo(method="GET", path="/persons/search"),
        OperationInfo(method="GET", path="/files/{name}.json"),
        OperationInfo(method="GET", path="/"),
        OperationInfo(method="POST", path="/persons/{nik}/family"),
    ]
    assert find_operation(ops, "get", "/persons/123").path == "/persons/{nik}"
    # A concrete path wins over a template.
    assert find_operation(ops, "GET", "/persons/search").path == "/persons/search"
    assert find_operation(ops, "GET", "/files/a.b.json").path == "/files/{name}.json"
    assert find_operation(ops, "GET", "/files/.json") is None
    assert find_operation(ops, "GET", "/").path == "/"
    assert find_operation(ops, "POST", "/persons/1/family").path == "/persons/{nik}/family"
    for method, path in [
        ("POST", "/persons/1"),
        ("GET", "/persons"),
        ("GET", "/persons/1/2"),
        ("GET", "/persons/"),
        ("GET", "/persons/../search"),
        ("GET", "//persons/1"),
        ("GET", "persons/1"),
        ("GET", "/persons/.*"),
    ]:
        if path == "/persons/.*":
            # Regex characters are plain characters: this is just a NIK-shaped segment.
            assert find_operation(ops, method, path).path == "/persons/{nik}"
        else:
            assert find_operation(ops, method, path) is None, (method, path)
    assert not template_matches("/a/{x}", "/a/b/c")
    assert template_matches("/a/{x}-{y}", "/a/1-2") and not template_matches("/a/{x}-{y}", "/a/-2")


def test_rights_and_is_allowed(db, exchange_world) -> None:
    world = exchange_world
    consumer, service = world.consumer.subsystem, world.service
    get_person = registry.match_operation(service=service, method="GET", path="/persons/1")
    family = registry.match_operation(service=service, method="GET", path="/persons/1/family")
    assert get_person is not None and family is not None

    def allowed(op):
        return registry.is_allowed(
            session=db, client_subsystem_id=consumer.id, service_id=service.id, operation=op
        )

    assert not allowed(get_person)
    _problem(
        lambda: registry.grant_access(
            session=db,
            actor=KEMENSOS_OFFICER,  # the consumer's officer cannot grant itself access
            service_id=service.id,
            client_subsystem_id=consumer.id,
        ),
        "forbidden",
    )
    _problem(
        lambda: registry.grant_access(
            session=db,
            actor=DUKCAPIL_OFFICER,
            service_id=service.id,
            client_subsystem_id=consumer.id,
            operation="DELETE /persons/{nik}",
        ),
        "validation-error",
    )
    right = registry.grant_access(
        session=db,
        actor=DUKCAPIL_OFFICER,
        service_id=service.id,
        client_subsystem_id=consumer.id,
        operation="GET /persons/{nik}",
    )
    assert right.operation == "GET /persons/{nik}" and right.client == consumer.xroad_id
    again = registry.grant_access(
        session=db,
        actor=ADMIN,
        service_id=service.id,
        client_subsystem_id=consumer.id,
        operation="get /persons/{nik}",
    )
    assert again.id == right.id
    assert allowed(get_person) and not allowed(family) and not allowed(None)
    assert [
        s.id for s in registry.allowed_services(session=db, client_subsystem_id=consumer.id)
    ] == [service.id]
    ops = registry.allowed_operations(session=db, client_subsystem_id=consumer.id, service=service)
    assert [o.path for o in ops] == ["/persons/{nik}"]
    # A whole-service right covers every operation (and None).
    whole = registry.grant_access(
        session=db, actor=ADMIN, service_id=service.id, client_subsystem_id=consumer.id
    )
    assert allowed(family) and allowed(None)
    # An operation that is not exposed is never allowed, whatever the rights.
    assert not allowed(OperationInfo(method="DELETE", path="/persons/{nik}"))
    # Disabled parties are never allowed.
    registry.update_subsystem(session=db, actor=ADMIN, subsystem_id=consumer.id, enabled=False)
    assert not allowed(get_person)
    assert registry.allowed_services(session=db, client_subsystem_id=consumer.id) == []
    registry.update_subsystem(session=db, actor=ADMIN, subsystem_id=consumer.id, enabled=True)
    registry.disable_service(session=db, actor=ADMIN, service_id=service.id)
    assert not allowed(get_person)
    registry.update_service(session=db, actor=ADMIN, service_id=service.id, enabled=True)
    registry.update_subsystem(
        session=db, actor=ADMIN, subsystem_id=world.provider.subsystem.id, enabled=False
    )
    assert not allowed(get_person)
    registry.update_subsystem(
        session=db, actor=ADMIN, subsystem_id=world.provider.subsystem.id, enabled=True
    )
    # Revoking.
    _problem(
        lambda: registry.revoke_access(session=db, actor=KEMENSOS_OFFICER, right_id=whole.id),
        "forbidden",
    )
    registry.revoke_access(session=db, actor=DUKCAPIL_OFFICER, right_id=whole.id)
    assert allowed(get_person) and not allowed(family)
    _problem(
        lambda: registry.revoke_access(session=db, actor=ADMIN, right_id=whole.id), "not-found"
    )
    rights = registry.list_rights(session=db, service_id=service.id)
    assert [r.id for r in rights] == [right.id]
    actions = [
        a.action for a in identity.list_audit(session=db, target=f"service:{service.xroad_id}")
    ]
    assert "exchange.right.granted" in actions and "exchange.right.revoked" in actions


def test_narrowing_operations_drops_rights_to_them(db, exchange_world) -> None:
    world = exchange_world
    registry.grant_access(
        session=db,
        actor=ADMIN,
        service_id=world.service.id,
        client_subsystem_id=world.consumer.subsystem.id,
        operation="GET /persons/{nik}/family",
    )
    updated = registry.update_service(
        session=db, actor=ADMIN, service_id=world.service.id, operations=["GET /persons/{nik}"]
    )
    assert [o.path for o in updated.operations] == ["/persons/{nik}"]
    assert registry.list_rights(session=db, service_id=world.service.id) == []


def test_mandates(db, exchange_world) -> None:
    world = exchange_world
    add = registry.add_mandate
    _problem(
        lambda: add(
            session=db,
            actor=DUKCAPIL_OFFICER,
            service_id=world.service.id,
            client_agency_id=CONSUMER_AGENCY,
            purpose="bansos",
            legal_basis="UU 13/2011",
        ),
        "forbidden",
    )
    _problem(
        lambda: add(
            session=db,
            actor=ADMIN,
            service_id=world.service.id,
            client_agency_id="nope",
            purpose="bansos",
            legal_basis="UU 13/2011",
        ),
        "not-found",
    )
    _problem(
        lambda: add(
            session=db,
            actor=ADMIN,
            service_id=world.service.id,
            client_agency_id=CONSUMER_AGENCY,
            purpose="",
            legal_basis="UU 13/2011",
        ),
        "validation-error",
    )
    _problem(
        lambda: add(
            session=db,
            actor=ADMIN,
            service_id=world.service.id,
            client_agency_id=CONSUMER_AGENCY,
            purpose="bansos",
            legal_basis="UU 13/2011",
            valid_until=utcnow() - timedelta(days=1),
        ),
        "validation-error",
    )
    mandate = add(
        session=db,
        actor=ADMIN,
        service_id=world.service.id,
        client_agency_id=CONSUMER_AGENCY,
        purpose="bansos",
        legal_basis="UU 13/2011 tentang Penanganan Fakir Miskin",
    )
    assert (mandate.client_member_class, mandate.client_member_code) == ("GOV", "kemensos")

    def find(purpose="bansos", code="kemensos"):
        return registry.find_mandate(
            session=db,
            service_id=world.service.id,
            client_member_class="GOV",
            client_member_code=code,
            purpose=purpose,
        )

    assert find() == mandate
    assert find(purpose="other") is None and find(code="kemenkes") is None
    future = add(
        session=db,
        actor=ADMIN,
        service_id=world.service.id,
        client_agency_id=OTHER_AGENCY,
        purpose="bansos",
        legal_basis="x",
        valid_from=utcnow() + timedelta(days=1),
    )
    assert find(code="kemenkes") is None and future.valid_until is None
    ended = registry.end_mandate(session=db, actor=ADMIN, mandate_id=mandate.id)
    assert ended.valid_until is not None and find() is None
    _problem(
        lambda: registry.end_mandate(session=db, actor=KEMENSOS_OFFICER, mandate_id=mandate.id),
        "forbidden",
    )
    _problem(lambda: registry.end_mandate(session=db, actor=ADMIN, mandate_id=0), "not-found")
    assert len(registry.list_mandates(session=db, service_id=world.service.id)) == 2
