"""CSRF for JSON APIs called with the session cookie: `GET /api/v1/csrf`, `X-CSRF-Token`.

Every unsafe route whose access rule takes the browser's session (account, officer, staff,
admin, registrar) refuses a signed-in call without a valid header; the form pages keep their
form field; bearer-token routes never ask for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from satu.identity import service
from satu.identity.schemas import ResidentOut
from tests.identity.conftest import (
    PASSWORD,
    api_csrf,
    assert_csrf_guarded,
    form_token,
    resident_data,
    sign_in,
)
from tests.test_architecture import access_rules_of, checked_routes

# The access rules that a browser's session cookie satisfies.
COOKIE_RULES = {"account", "officer", "staff", "admin", "registrar"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _signed_in_with_role(
    client: TestClient, db: Session, new_resident: Callable[..., ResidentOut], role: str, **kw: Any
) -> str:
    person = new_resident()
    account_id = service.create_account(session=db, nik=person.nik, password=PASSWORD).id
    service.grant_role(session=db, account_id=account_id, role=role, **kw)
    db.commit()
    assert sign_in(client, person.nik).status_code == 303
    return account_id


def cookie_api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path with every parameter filled) of each unsafe JSON route on the session."""
    found = []
    for context in checked_routes(app):
        if not isinstance(context.original_route, APIRoute):
            continue
        if not context.path.startswith("/api/"):
            continue
        if not set(access_rules_of(context.dependant)) & COOKIE_RULES:
            continue
        path = re.sub(r"\{[^}]+\}", "1", context.path)
        found.extend((method, path) for method in sorted(set(context.methods or ()) & UNSAFE))
    return found


def test_the_token_endpoint(client: TestClient) -> None:
    first = client.get("/api/v1/csrf")
    assert first.status_code == 200
    assert first.json() == {"csrf_token": first.json()["csrf_token"], "header": "X-CSRF-Token"}
    assert first.headers["cache-control"] == "no-store"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("satu_csrf=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    again = client.get("/api/v1/csrf")
    assert "set-cookie" not in again.headers, "the browser keeps its cookie"
    with TestClient(client.app, base_url="https://testserver") as secure:
        https = secure.get("/api/v1/csrf").headers["set-cookie"]
    assert https.startswith("__Host-satu_csrf=") and "Secure" in https


def test_every_unsafe_json_route_on_the_session_needs_the_header(
    app: FastAPI, client: TestClient, db: Session, new_resident: Callable[..., ResidentOut]
) -> None:
    routes = cookie_api_routes(app)
    prefixes = {path.split("/")[3] for _, path in routes}
    assert {"identity", "complaints", "exchange", "rights"} <= prefixes, prefixes
    assert ("POST", "/api/v1/exchange/events/deliveries/1/requeue") in routes
    for method, path in routes:  # not signed in: authentication first
        response = client.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.text)
    _signed_in_with_role(client, db, new_resident, "admin")  # satisfies every cookie rule
    for method, path in routes:
        response = client.request(method, path, json={})
        assert response.status_code == 403, (method, path, response.text)
        assert "X-CSRF-Token" in response.json()["detail"], (method, path)
    api_csrf(client)
    for method, path in routes:
        response = client.request(method, path, json={})
        assert response.status_code != 403, (method, path, response.text)
        assert "CSRF" not in response.text, (method, path, response.text)


def test_registrar_api_needs_the_token(
    client: TestClient, db: Session, new_resident: Callable[..., ResidentOut]
) -> None:
    _signed_in_with_role(client, db, new_resident, "verifier", agency_id="kemendagri.dukcapil")
    body = resident_data(full_name="Ayu Lestari", sex="F", birth_date=date(2001, 12, 31))
    created = assert_csrf_guarded(
        client,
        "POST",
        "/api/v1/identity/residents",
        json=body.model_dump(mode="json"),
        expect=201,
    )
    nik = created.json()["nik"]
    dead = assert_csrf_guarded(
        client,
        "POST",
        f"/api/v1/identity/residents/{nik}/death",
        json={"died_on": "2025-01-02"},
        expect=200,
    )
    assert dead.json()["status"] == "deceased"


def test_form_pages_keep_their_form_token(client: TestClient, signed_in: dict[str, str]) -> None:
    """A signed-in form post with the field (no header) still works: verify_csrf accepted it."""
    token = form_token(client, "/akun/sesi")
    response = client.post(
        "/akun/sesi/cabut-lainnya", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    refused = client.post("/akun/sesi/cabut-lainnya", data={}, follow_redirects=False)
    assert refused.status_code == 403
