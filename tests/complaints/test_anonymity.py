"""An anonymous reporter is never revealed: not in logs, exports, Open311, or officer views."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from satu.complaints import workflow
from satu.complaints.config import ComplaintSettings
from satu.complaints.open311 import create_api_key
from satu.complaints.schemas import Officer
from satu.complaints.statistics import clear_cache

from .conftest import DUKCAPIL, VILLAGE

SECRET_NAME = "Rahasia Sekali Namanya"
SECRET_MAIL = "rahasia.sekali@example.id"
SECRET_PHONE = "+6281298765432"
BODY = {
    "title": "Pungutan liar di loket KTP-el",
    "body": "Petugas loket meminta uang Rp100.000 agar KTP-el saya dicetak lebih cepat. "
    f"Saya {SECRET_NAME} bersedia dihubungi.",
    "service_code": "ktp-el",
    "region_code": VILLAGE,
    "anonymous": True,
    "reporter_name": SECRET_NAME,
    "reporter_email": SECRET_MAIL,
    "reporter_phone": SECRET_PHONE,
}


def leaks(text: str) -> list[str]:
    return [s for s in (SECRET_NAME, SECRET_MAIL, SECRET_PHONE, "Rahasia Sekali") if s in text]


def test_nothing_identifying_reaches_logs_exports_or_officers(
    client: TestClient, db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    filed = client.post("/api/v1/complaints", json=BODY).json()
    verifier = Officer(account_id="v", agency_id=None, verifier=True, national=True)
    workflow.verify(session=db, officer=verifier, report_id=filed["id"])
    officer = Officer(account_id="o", agency_id=DUKCAPIL)
    case = workflow.get_case(session=db, officer=officer, report_id=filed["id"])
    queue = workflow.queue(session=db, officer=officer)
    clear_cache()
    exports = [
        client.get(f"/api/v1/complaints/{filed['number']}").text,
        client.get(f"/pengaduan/laporan/{filed['number']}").text,
        client.get("/api/v1/complaints/statistics.csv").text,
        client.get("/open311/v2/requests.json").text,
        client.get(f"/open311/v2/requests/{filed['number']}.xml").text,
        case.model_dump_json(),
        queue.model_dump_json(),
    ]
    for text in exports:
        assert leaks(text) == []
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert leaks(logged) == []


def test_open311_gateway_keys_are_rate_limited(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    key = create_api_key(session=db, name="banjir-sms")
    app.state.complaint_settings = ComplaintSettings(rate_per_api_key_per_hour=2)
    form = {
        "api_key": key,
        "service_code": "drainase-banjir",
        "address_id": VILLAGE,
        "description": "Drainase tersumbat sehingga jalan desa tergenang setiap hujan deras.",
    }
    codes = []
    for i in range(3):
        form["description"] += f" ({i})"
        codes.append(client.post("/open311/v2/requests.json", data=form).status_code)
    assert codes == [200, 200, 429]
