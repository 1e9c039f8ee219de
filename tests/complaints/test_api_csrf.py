"""CSRF on the complaints JSON API when the browser's session cookie is used.

The officers' case actions take the session; filing and "me too" are public but act as the
signed-in account when there is one, so a signed-in call needs `X-CSRF-Token` there too, while
anonymous callers (no session) and Open311 clients are unaffected.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.complaints.models import Report
from satu.complaints.open311 import create_api_key
from satu.complaints.schemas import FiledReport
from tests.complaints.conftest import report_in
from tests.complaints.test_open311 import FORM as OPEN311_FORM
from tests.complaints.test_views import officer_client
from tests.identity.conftest import assert_csrf_guarded


def test_officer_case_actions_need_the_token(
    client: TestClient, db: Session, file: Callable[..., FiledReport]
) -> None:
    filed = file()
    db.commit()
    officer_client(client, db, 9121, "verifier", "kemenpan-rb")
    noted = assert_csrf_guarded(
        client,
        "POST",
        f"/api/v1/complaints/cases/{filed.id}/actions",
        json={"action": "note", "message": "catatan lewat API"},
        expect=200,
    )
    notes = [e["body"] for e in noted.json()["events"] if e["body"] == "catatan lewat API"]
    assert notes == ["catatan lewat API"], "the refused attempts added no note"


def test_filing_and_support_as_a_signed_in_account_need_the_token(
    client: TestClient, db: Session
) -> None:
    body = report_in(title="Jalan desa rusak parah sejak banjir").model_dump(mode="json")
    anonymous = client.post("/api/v1/complaints", json=body)
    assert anonymous.status_code == 201, "no session, nothing to forge: no token needed"
    number = anonymous.json()["number"]
    officer_client(client, db, 9122, "verifier", "kemenpan-rb")
    mine = assert_csrf_guarded(
        client,
        "POST",
        "/api/v1/complaints",
        json=report_in(title="Lampu jalan padam di seluruh desa").model_dump(mode="json"),
        expect=201,
    )
    report = db.get(Report, mine.json()["id"])
    assert report is not None and report.reporter_account_id is not None
    supported = assert_csrf_guarded(
        client, "POST", f"/api/v1/complaints/{number}/support", expect=200
    )
    assert supported.json() == {"supporters": 1}, "only the accepted call counted"


def test_open311_clients_are_unaffected(client: TestClient, db: Session) -> None:
    """Open311 authenticates by api_key, never the session: no token, even beside a cookie."""
    key = create_api_key(session=db, name="csrf-uji", channel="sms")
    officer_client(client, db, 9123, "verifier", "kemenpan-rb")
    client.headers.pop("X-CSRF-Token", None)
    response = client.post(
        "/open311/v2/requests.json",
        data={**OPEN311_FORM, "api_key": key},
        headers={"Origin": "https://elsewhere.example"},
    )
    assert response.status_code == 200, response.text
    row = db.scalars(
        select(Report).where(Report.number == response.json()[0]["service_request_id"])
    ).one()
    assert row.reporter_account_id is None, "the cookie was not used"
