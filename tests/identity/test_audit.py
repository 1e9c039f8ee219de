"""The audit trail records sign-ins, failures and admin actions with who, when and where."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from satu.identity import service
from tests.identity.conftest import sign_in


def test_sign_in_success_and_failure_are_recorded(
    client: TestClient, account: dict[str, str], db: Session
) -> None:
    sign_in(client, account["nik"], "salah-sandi-sekali")
    sign_in(client, account["nik"])
    actor = f"account:{account['account_id']}"
    events = service.list_audit(session=db, actor=actor)
    actions = [e.action for e in events]
    assert "login.failed" in actions and "login.succeeded" in actions
    succeeded = next(e for e in events if e.action == "login.succeeded")
    assert succeeded.ip == "testclient"
    assert succeeded.detail == {"acr": "urn:satu:acr:pwd"}
    assert succeeded.at.tzinfo is not None
    failed = next(e for e in events if e.action == "login.failed")
    assert account["nik"] not in (failed.target or "")  # the trail never stores the NIK typed


def test_unknown_nik_failure_is_recorded_as_anonymous(client: TestClient, db: Session) -> None:
    sign_in(client, "3273011708900002", "salah-sandi-sekali")
    events = service.list_audit(session=db, action="login.failed", actor="anonymous", limit=5)
    assert events and events[0].ip == "testclient"


def test_admin_actions_and_logout_are_recorded(
    client: TestClient, signed_in: dict[str, str], db: Session
) -> None:
    service.grant_role(
        session=db, account_id=signed_in["account_id"], role="admin", granted_by="account:root"
    )
    events = service.list_audit(session=db, action="role.granted", actor="account:root")
    assert events[0].detail == {"role": "admin", "agency_id": None}
    from tests.identity.conftest import form_token

    client.post("/keluar", data={"csrf_token": form_token(client, "/keluar")})
    assert service.list_audit(
        session=db, action="logout", target=f"account:{signed_in['account_id']}"
    )


def test_record_audit_is_available_to_other_parts(db: Session) -> None:
    service.record_audit(
        session=db,
        actor="client:demo",
        action="token.issued",
        target="account:x",
        ip="192.0.2.1",
        detail={"grant_type": "client_credentials"},
    )
    (event,) = service.list_audit(session=db, actor="client:demo", limit=1)
    assert event.detail == {"grant_type": "client_credentials"}
    assert service.list_audit(session=db, actor="client:demo", limit=0)  # clamped to >= 1


def test_activity_page_shows_own_events(client: TestClient, signed_in: dict[str, str]) -> None:
    page = client.get("/akun/aktivitas")
    assert page.status_code == 200
    assert "login.succeeded" in page.text
