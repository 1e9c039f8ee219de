"""Officer roles: agency scoping, who may grant what, access rules."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from satu.core.errors import Problem
from satu.identity import service
from tests.identity.conftest import PASSWORD, form_token, sign_in

AGENCY = "kemendagri.dukcapil"
OTHER_AGENCY = "kemendagri"


def _person(db: Session, new_resident) -> str:  # type: ignore[no-untyped-def]
    resident = new_resident()
    return service.create_account(session=db, nik=resident.nik, password=PASSWORD).id


def test_scoped_roles_need_a_real_agency(db: Session, new_resident) -> None:  # type: ignore[no-untyped-def]
    account_id = _person(db, new_resident)
    with pytest.raises(Problem) as caught:
        service.grant_role(session=db, account_id=account_id, role="officer")
    assert caught.value.slug == "validation-error"
    with pytest.raises(Problem) as caught:
        service.grant_role(session=db, account_id=account_id, role="officer", agency_id="no.such")
    assert caught.value.status in (404, 422)
    with pytest.raises(Problem):
        service.grant_role(session=db, account_id=account_id, role="admin", agency_id=AGENCY)
    with pytest.raises(Problem):
        service.grant_role(session=db, account_id=account_id, role="superuser")
    with pytest.raises(Problem):
        service.grant_role(session=db, account_id="missing", role="admin")


def test_officer_context_resolves_agencies(db: Session, new_resident) -> None:  # type: ignore[no-untyped-def]
    account_id = _person(db, new_resident)
    assert service.officer_context(session=db, account_id=account_id) is None
    service.grant_role(session=db, account_id=account_id, role="verifier", agency_id=AGENCY)
    again = service.grant_role(session=db, account_id=account_id, role="verifier", agency_id=AGENCY)
    context = service.officer_context(session=db, account_id=account_id)
    assert context is not None
    assert context.agency_ids == [AGENCY]
    assert context.agency_id == AGENCY
    assert context.roles_at(AGENCY) == {"verifier"}
    assert not context.is_admin
    assert len(service.list_grants(session=db, account_id=account_id)) == 1
    service.revoke_role(session=db, grant_id=again.id, revoked_by="test")
    assert service.officer_context(session=db, account_id=account_id) is None


def test_resident_without_role_cannot_open_officer_pages(
    client: TestClient, signed_in: dict[str, str]
) -> None:
    assert client.get("/petugas").status_code == 403


def test_agency_admin_manages_only_own_agency(
    client: TestClient, signed_in: dict[str, str], db: Session, new_resident
) -> None:  # type: ignore[no-untyped-def]
    service.grant_role(
        session=db, account_id=signed_in["account_id"], role="agency_admin", agency_id=AGENCY
    )
    officer = new_resident()
    officer_id = service.create_account(session=db, nik=officer.nik, password=PASSWORD).id
    db.commit()
    page = client.get("/petugas")
    assert page.status_code == 200
    token = form_token(client, "/petugas")

    def grant(role: str, agency: str):  # type: ignore[no-untyped-def]
        return client.post(
            "/petugas",
            data={"nik": officer.nik, "role": role, "agency_id": agency, "csrf_token": token},
            follow_redirects=False,
        )

    assert grant("officer", AGENCY).status_code == 303
    assert grant("officer", OTHER_AGENCY).status_code == 403
    assert grant("agency_admin", AGENCY).status_code == 403
    assert grant("admin", "").status_code == 403
    context = service.officer_context(session=db, account_id=officer_id)
    assert context is not None and context.agency_ids == [AGENCY]
    grant_id = context.grants[0].id
    assert (
        client.post(
            f"/petugas/{grant_id}/cabut", data={"csrf_token": token}, follow_redirects=False
        ).status_code
        == 303
    )
    assert service.officer_context(session=db, account_id=officer_id) is None


def test_admin_grants_global_roles(
    client: TestClient, signed_in: dict[str, str], db: Session, new_resident
) -> None:  # type: ignore[no-untyped-def]
    service.grant_role(session=db, account_id=signed_in["account_id"], role="admin")
    observer = new_resident()
    observer_id = service.create_account(session=db, nik=observer.nik, password=PASSWORD).id
    db.commit()
    token = form_token(client, "/petugas")
    response = client.post(
        "/petugas",
        data={
            "nik": observer.nik,
            "role": "ministry_observer",
            "agency_id": "",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    context = service.officer_context(session=db, account_id=observer_id)
    assert context is not None and context.agency_ids == [] and not context.is_admin
    no_account = client.post(
        "/petugas",
        data={
            "nik": "3273011708900001",
            "role": "officer",
            "agency_id": AGENCY,
            "csrf_token": token,
        },
    )
    assert no_account.status_code == 422
    assert client.post("/petugas/nope/cabut", data={"csrf_token": token}).status_code == 404


def test_access_rules_are_enforced_over_http(
    app, client: TestClient, db: Session, new_resident
) -> None:  # type: ignore[no-untyped-def]
    from fastapi import APIRouter, Depends

    from satu.identity.access import require_admin, require_officer

    router = APIRouter()

    @router.get("/_t/officer")
    def officer_only(ctx=Depends(require_officer)) -> dict[str, object]:  # type: ignore[no-untyped-def]
        return {"agency": ctx.agency_id}

    @router.get("/_t/admin")
    def admin_only(ctx=Depends(require_admin)) -> dict[str, object]:  # type: ignore[no-untyped-def]
        return {"admin": ctx.is_admin}

    app.include_router(router)
    person = new_resident()
    account_id = service.create_account(session=db, nik=person.nik, password=PASSWORD).id
    db.commit()
    assert client.get("/_t/officer").status_code == 401
    sign_in(client, person.nik)
    assert client.get("/_t/officer").status_code == 403
    service.grant_role(session=db, account_id=account_id, role="officer", agency_id=AGENCY)
    db.commit()
    assert client.get("/_t/officer").json() == {"agency": AGENCY}
    assert client.get("/_t/admin").status_code == 403
    service.grant_role(session=db, account_id=account_id, role="admin")
    db.commit()
    assert client.get("/_t/admin").json() == {"admin": True}
