"""What services and requests look like in Open311: the entries the endpoints answer with.

A service's entry and the attributes (Satu's extensions) its definition lists; a request's
entry with its open/closed status, latest public note, agency and place, with the reporter's
name redacted and the address hidden for anonymous and whistle-blowing reports. Agency and
region names are remembered within one request. Split from `open311.py`, which re-exports
these names.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.complaints.calendar import JAKARTA
from satu.complaints.models import Event, Report, Service
from satu.complaints.open311_render import _iso
from satu.complaints.presenters import public_location, region_name
from satu.complaints.routing import agency_name
from satu.complaints.text import redact

OPEN = ("unverified", "dispositioned", "in_process", "postponed")
CLOSED = ("done", "archived")


def _service_entry(service: Service) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description or service.name_en,
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join(service.keywords.split()),
        "group": service.category_code,
    }


ATTRIBUTES: list[dict[str, Any]] = [
    {
        "variable": True,
        "code": "report_type",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "complaint (default), aspiration, information or whistleblowing",
        "order": 1,
        "description": "Jenis laporan / kind of report",
        "values": [
            {"key": "complaint", "name": "Pengaduan"},
            {"key": "aspiration", "name": "Aspirasi"},
            {"key": "information", "name": "Permintaan informasi"},
            {"key": "whistleblowing", "name": "Pengaduan pelanggaran (whistle-blowing)"},
        ],
    },
    {
        "variable": True,
        "code": "anonymous",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "true hides the reporter from the agency and the public",
        "order": 2,
        "description": "Anonim / anonymous",
        "values": [{"key": "false", "name": "Tidak"}, {"key": "true", "name": "Ya"}],
    },
    {
        "variable": True,
        "code": "confidential",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "true keeps the report itself out of public view",
        "order": 3,
        "description": "Rahasia / confidential",
        "values": [{"key": "false", "name": "Tidak"}, {"key": "true", "name": "Ya"}],
    },
    {
        "variable": True,
        "code": "title",
        "datatype": "string",
        "required": False,
        "datatype_description": "5 to 150 characters; defaults to the start of the description",
        "order": 4,
        "description": "Judul laporan / title",
    },
]


def _status_notes(session: Session, report: Report) -> str:
    if report.status == "archived":
        return report.archive_reason or ""
    latest = session.scalars(
        select(Event)
        .where(Event.report_id == report.id, Event.public.is_(True), Event.body != "")
        .order_by(Event.id.desc())
        .limit(1)
    ).first()
    names = [report.reporter_name] if report.reporter_name else []
    return redact(latest.body, names) if latest else ""


def _memo(session: Session, kind: str, key: str | None, compute: Any) -> Any:
    """Remember names within one request (a listing repeats the same agencies and places)."""
    cache = session.info.setdefault("open311_names", {})
    if (kind, key) not in cache:
        cache[(kind, key)] = compute()
    return cache[(kind, key)]


def _request_entry(session: Session, report: Report) -> dict[str, Any]:
    service = session.get(Service, report.service_code)
    names = [report.reporter_name] if report.reporter_name else []
    expected = report.settle_due or report.verify_due
    address, latitude, longitude = public_location(report)
    hidden = report.anonymous or report.kind == "whistleblowing"
    return {
        "service_request_id": report.number,
        "status": "closed" if report.status in CLOSED else "open",
        "status_notes": _status_notes(session, report),
        "service_name": service.name if service else report.service_code,
        "service_code": report.service_code,
        "description": redact(report.body, names),
        "agency_responsible": _memo(
            session,
            "agency",
            report.agency_id,
            lambda: agency_name(session=session, agency_id=report.agency_id) or "",
        ),
        "service_notice": "",
        "requested_datetime": _iso(report.created_at),
        "updated_datetime": _iso(report.updated_at),
        "expected_datetime": _iso(datetime.combine(expected, time(17), JAKARTA))
        if expected
        else None,
        "address": ""
        if hidden
        else address
        or _memo(
            session,
            "region",
            report.region_code,
            lambda: region_name(session=session, code=report.region_code) or "",
        ),
        "address_id": report.region_code or "",
        "zipcode": "",
        "lat": latitude,
        "long": longitude,
        "media_url": "",
    }
