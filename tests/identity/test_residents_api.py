"""The register's JSON API: only civil registry officers, refusals with reasons, audit."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from satu.identity import service
from tests.identity.conftest import PASSWORD, api_csrf, make_nik, resident_data, sign_in


def _body(**overrides: object) -> dict[str, object]:
    return resident_data(**overrides).model_dump(mode="json")


def _registrar(client: TestClient, db: Session, new_resident, role: str = "verifier") -> str:  # type: ignore[no-untyped-def]
    person = new_resident()
    account_id = service.create_account(session=db, nik=person.nik, password=PASSWORD).id
    service.grant_role(
        session=db, account_id=account_id, role=role, agency_id="kemendagri.dukcapil"
    )
    db.commit()
    assert sign_in(client, person.nik).status_code == 303
    api_csrf(client)
    return account_id


def test_only_registry_officers_may_use_the_register(
    client: TestClient, db: Session, new_resident
) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/api/v1/identity/residents", json=_body()).status_code == 401
    person = new_resident()
    account_id = service.create_account(session=db, nik=person.nik, password=PASSWORD).id
    service.grant_role(session=db, account_id=account_id, role="officer", agency_id="kemendagri")
    db.commit()
    sign_in(client, person.nik)
    response = client.get(f"/api/v1/identity/residents/{person.nik}")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


def test_register_read_family_and_death(client: TestClient, db: Session, new_resident) -> None:  # type: ignore[no-untyped-def]
    officer_id = _registrar(client, db, new_resident)
    body = _body(full_name="Ayu Lestari", sex="F", birth_date=date(2001, 12, 31))
    created = client.post("/api/v1/identity/residents", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["address"]["village"]["name"] == "Sukarasa"
    nik = body["nik"]
    assert client.get(f"/api/v1/identity/residents/{nik}").json()["full_name"] == "Ayu Lestari"
    assert service.list_audit(session=db, action="resident.read", actor=f"account:{officer_id}")
    family = client.get(f"/api/v1/identity/residents/{nik}/family")
    assert [m["nik"] for m in family.json()] == [nik]
    assert service.list_audit(
        session=db, action="resident.family_read", actor=f"account:{officer_id}"
    )
    dead = client.post(f"/api/v1/identity/residents/{nik}/death", json={"died_on": "2025-01-02"})
    assert dead.status_code == 200 and dead.json()["status"] == "deceased"


def test_mismatches_and_bad_input_are_refused_with_reasons(
    client: TestClient, db: Session, new_resident
) -> None:  # type: ignore[no-untyped-def]
    _registrar(client, db, new_resident)
    body = _body(birth_date=date(1990, 8, 17))
    body["birth_date"] = "1990-08-18"
    wrong_date = client.post("/api/v1/identity/residents", json=body)
    assert wrong_date.status_code == 422
    assert "birth date" in wrong_date.json()["detail"]
    body = _body(sex="M")
    body["sex"] = "F"
    wrong_sex = client.post("/api/v1/identity/residents", json=body)
    assert wrong_sex.status_code == 422 and "sex" in wrong_sex.json()["detail"]
    bad_form = client.post("/api/v1/identity/residents", json={**_body(), "nik": "123"})
    assert bad_form.status_code == 422
    assert client.get("/api/v1/identity/residents/12ab").status_code == 422
    assert (
        client.get(f"/api/v1/identity/residents/{make_nik(date(1950, 1, 1), 'M')}").status_code
        == 404
    )
    not_json = client.post(
        "/api/v1/identity/residents", content="nik=1", headers={"content-type": "text/plain"}
    )
    assert not_json.status_code in (415, 422)


def test_me_shows_own_data(client: TestClient, signed_in: dict[str, str]) -> None:
    me = client.get("/api/v1/identity/me")
    assert me.status_code == 200
    assert me.json()["resident"]["nik"] == signed_in["nik"]
    assert me.json()["acr"] == "urn:satu:acr:pwd"
