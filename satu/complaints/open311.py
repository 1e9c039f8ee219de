"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), in JSON and XML.

Existing 311 apps and SMS/social-media gateways submit here with an `api_key`. Satu's
extensions travel as service attributes: `report_type`, `anonymous`, `confidential`, and
`address_id` carries the region code (Kode Wilayah) down to the village. Remote `media_url`s
are never fetched (no server-side requests to addresses a client chooses).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, time, timedelta
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from satu.complaints.calendar import JAKARTA
from satu.complaints.config import get_complaint_settings
from satu.complaints.intake import file_report
from satu.complaints.limits import check_intake_rate, client_ip
from satu.complaints.models import ApiKey, Event, Report, Service
from satu.complaints.presenters import public_location, region_name
from satu.complaints.routing import agency_name
from satu.complaints.schemas import Reporter, ReportIn
from satu.complaints.text import redact
from satu.core.auth import public
from satu.core.db import DbSession, utcnow
from satu.core.errors import Problem

router = APIRouter(prefix="/open311/v2", tags=["open311"])
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-29T00:00:00Z"
MAX_RESULTS = 1000
DEFAULT_DAYS = 90
OPEN = ("unverified", "dispositioned", "in_process", "postponed")
CLOSED = ("done", "archived")
_FORMATS = {"json": "application/json", "xml": "text/xml"}
_ITEM_TAGS = {
    "formats": "format",
    "values": "value",
    "attributes": "attribute",
    "endpoints": "endpoint",
}


class Open311Error(Exception):
    """An error answered in Open311's `errors` shape."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


# --- api keys ------------------------------------------------------------------------------


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(*, session: Session, name: str, channel: str = "open311") -> str:
    """Create a key for a client or gateway; the raw key is shown once, only its hash kept."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Problem("validation-error", "name: 1 to 100 characters")
    if channel not in ("open311", "sms", "social", "api"):
        raise Problem("validation-error", "channel: open311, sms, social or api")
    if session.scalars(select(ApiKey).where(ApiKey.name == name)).first() is not None:
        raise Problem("conflict", f"A key named {name!r} exists.")
    raw = "s311_" + secrets.token_urlsafe(24)
    session.add(ApiKey(key_hash=_hash(raw), name=name, channel=channel))
    session.flush()
    return raw


def revoke_api_key(*, session: Session, name: str) -> bool:
    """Deactivate a key by name; True when one was active."""
    key = session.scalars(select(ApiKey).where(ApiKey.name == name)).first()
    if key is None or not key.active:
        return False
    key.active = False
    session.flush()
    return True


def _client(session: Session, raw: str | None) -> ApiKey:
    if not raw:
        raise Open311Error(403, "api_key is required")
    key = session.get(ApiKey, _hash(raw)) if len(raw) <= 200 else None
    if key is None or not key.active:
        raise Open311Error(403, "api_key is not valid")
    return key


# --- rendering -----------------------------------------------------------------------------


def _fmt(fmt: str) -> str:
    if fmt not in _FORMATS:
        raise Open311Error(404, f"format {fmt[:10]!r} not supported: use json or xml")
    return fmt


def _xml_value(parent: Element, name: str, value: Any) -> None:
    child = SubElement(parent, name)
    if isinstance(value, list):
        inner = _ITEM_TAGS.get(name, "item")
        for item in value:
            if isinstance(item, dict):
                node = SubElement(child, inner)
                for key, val in item.items():
                    _xml_value(node, key, val)
            else:
                SubElement(child, inner).text = _text(item)
    elif isinstance(value, dict):
        for key, val in value.items():
            _xml_value(child, key, val)
    else:
        child.text = _text(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _respond(fmt: str, root: str, item: str | None, data: Any, status: int = 200) -> Response:
    if fmt == "json":
        return JSONResponse(data, status_code=status)
    top = Element(root)
    if item is None:
        for key, val in data.items():
            _xml_value(top, key, val)
    else:
        for entry in data:
            node = SubElement(top, item)
            for key, val in entry.items():
                _xml_value(node, key, val)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + tostring(top, encoding="unicode").encode()
    return Response(body, status_code=status, media_type="text/xml; charset=utf-8")


def _error(fmt: str, error: Open311Error) -> Response:
    data = [{"code": error.code, "description": error.description}]
    fmt = fmt if fmt in _FORMATS else "json"
    return _respond(fmt, "errors", "error", data, status=error.code)


def _jurisdiction(value: str | None) -> None:
    if value and value != get_complaint_settings().jurisdiction_id:
        raise Open311Error(404, f"jurisdiction_id {value[:40]!r} was not found")


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


# --- discovery and services ----------------------------------------------------------------


@router.get("/discovery.{fmt}", dependencies=[Depends(public)])
def discovery(request: Request, fmt: str) -> Response:
    """Where the endpoints are and what they speak."""
    try:
        fmt = _fmt(fmt)
    except Open311Error as error:
        return _error("json", error)
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    return _respond(
        fmt,
        "discovery",
        None,
        {
            "changeset": CHANGESET,
            "contact": "Satu - pengaduan pelayanan publik (SP4N-LAPOR)",
            "key_service": "Ask the platform administrators: satu complaints api-key create",
            "endpoints": [
                {
                    "specification": SPEC,
                    "url": base,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": list(_FORMATS.values()),
                }
            ],
        },
    )


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


@router.get("/services.{fmt}", dependencies=[Depends(public)])
def services(session: DbSession, fmt: str, jurisdiction_id: str | None = None) -> Response:
    """Every service a request can be about."""
    try:
        fmt = _fmt(fmt)
        _jurisdiction(jurisdiction_id)
    except Open311Error as error:
        return _error(fmt, error)
    rows = session.scalars(
        select(Service).where(Service.active.is_(True)).order_by(Service.code)
    ).all()
    return _respond(fmt, "services", "service", [_service_entry(s) for s in rows])


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


@router.get("/services/{service_code}.{fmt}", dependencies=[Depends(public)])
def service_definition(
    session: DbSession, service_code: str, fmt: str, jurisdiction_id: str | None = None
) -> Response:
    """The attributes a request for this service may carry."""
    try:
        fmt = _fmt(fmt)
        _jurisdiction(jurisdiction_id)
        service = session.get(Service, service_code)
        if service is None or not service.active:
            raise Open311Error(404, f"service_code {service_code[:60]!r} was not found")
    except Open311Error as error:
        return _error(fmt, error)
    return _respond(
        fmt,
        "service_definition",
        None,
        {"service_code": service.code, "attributes": ATTRIBUTES},
    )


# --- requests ------------------------------------------------------------------------------


def _flag(value: str | None, name: str) -> bool:
    if value in (None, "", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise Open311Error(400, f"attribute[{name}] must be true or false")


def _float(value: str | None, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a number") from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise Open311Error(400, f"{name} must be a number")
    return number


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ()))
    names = {"body": "description", "region_code": "address_id", "latitude": "lat"}
    field = names.get(field, {"longitude": "long"}.get(field, field))
    return f"{field}: {first.get('msg', 'invalid')}"


@router.post("/requests.{fmt}", dependencies=[Depends(public)])
async def create_request(request: Request, session: DbSession, fmt: str) -> Response:
    """Submit a service request (form-encoded, as the specification says)."""
    try:
        fmt = _fmt(fmt)
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        _jurisdiction(values.get("jurisdiction_id"))
        client = _client(session, values.get("api_key"))
        try:
            check_intake_rate(request, api_key=client.key_hash)
        except Problem as exc:
            raise Open311Error(429, "too many requests for this api_key") from exc
        code = values.get("service_code")
        if not code:
            raise Open311Error(400, "service_code is required")
        service = session.get(Service, code)
        if service is None or not service.active:
            raise Open311Error(404, f"service_code {code[:60]!r} was not found")
        latitude = _float(values.get("lat"), "lat")
        longitude = _float(values.get("long"), "long")
        region = values.get("address_id") or None
        address = values.get("address_string") or None
        if (latitude is None or longitude is None) and not region and not address:
            raise Open311Error(
                400,
                "a location is required: lat and long, address_string or address_id (region code)",
            )
        description = (values.get("description") or "").strip()
        title = (values.get("attribute[title]") or "").strip() or description[:120]
        name = " ".join(
            part for part in (values.get("first_name"), values.get("last_name")) if part
        )
        try:
            data = ReportIn(
                kind=values.get("attribute[report_type]") or "complaint",
                title=title,
                body=description,
                service_code=code,
                region_code=region,
                latitude=latitude,
                longitude=longitude,
                address=address,
                anonymous=_flag(values.get("attribute[anonymous]"), "anonymous"),
                confidential=_flag(values.get("attribute[confidential]"), "confidential"),
                reporter_name=name or None,
                reporter_email=values.get("email") or None,
                reporter_phone=values.get("phone") or None,
            )
        except ValidationError as exc:
            raise Open311Error(400, _validation_message(exc)) from exc
        try:
            filed = file_report(
                session=session,
                data=data,
                reporter=Reporter(
                    channel=client.channel, api_client=client.name, ip=client_ip(request)
                ),
            )
        except Problem as exc:
            raise Open311Error(400, exc.detail or exc.title) from exc
    except Open311Error as error:
        return _error(fmt, error)
    notice = "Laporan diterima dan akan diverifikasi dalam 3 hari kerja."
    return _respond(
        fmt,
        "service_requests",
        "request",
        [
            {
                "service_request_id": filed.number,
                "token": filed.token,
                "service_notice": notice,
                "account_id": None,
            }
        ],
    )


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


def _parse_when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a W3C date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/requests.{fmt}", dependencies=[Depends(public)])
def list_requests(
    request: Request,
    session: DbSession,
    fmt: str,
    jurisdiction_id: str | None = None,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> Response:
    """Public requests: by ids, or filtered (the last 90 days and 1,000 results by default)."""
    try:
        fmt = _fmt(fmt)
        _jurisdiction(jurisdiction_id)
        query = select(Report).where(Report.confidential.is_(False))
        if service_request_id:
            ids = [i.strip() for i in service_request_id.split(",") if i.strip()][:MAX_RESULTS]
            query = query.where(Report.number.in_(ids))
        else:
            start = _parse_when(start_date, "start_date")
            end = _parse_when(end_date, "end_date")
            if start is None and end is None:
                start = utcnow() - timedelta(days=DEFAULT_DAYS)
            if start is not None and end is not None and end < start:
                raise Open311Error(400, "end_date is before start_date")
            if start is not None:
                query = query.where(Report.created_at >= start)
            if end is not None:
                query = query.where(Report.created_at <= end)
            if service_code:
                codes = [c.strip() for c in service_code.split(",") if c.strip()]
                query = query.where(Report.service_code.in_(codes))
            if status:
                wanted = {s.strip() for s in status.split(",")}
                if not wanted <= {"open", "closed"}:
                    raise Open311Error(400, "status must be open, closed or both")
                groups = []
                if "open" in wanted:
                    groups.append(Report.status.in_(OPEN))
                if "closed" in wanted:
                    groups.append(Report.status.in_(CLOSED))
                query = query.where(or_(*groups))
        rows = session.scalars(query.order_by(Report.created_at.desc()).limit(MAX_RESULTS)).all()
    except Open311Error as error:
        return _error(fmt, error)
    return _respond(fmt, "service_requests", "request", [_request_entry(session, r) for r in rows])


@router.get("/requests/{request_id}.{fmt}", dependencies=[Depends(public)])
def get_request(
    session: DbSession, request_id: str, fmt: str, jurisdiction_id: str | None = None
) -> Response:
    """One request by its id."""
    try:
        fmt = _fmt(fmt)
        _jurisdiction(jurisdiction_id)
        report = session.scalars(select(Report).where(Report.number == request_id[:20])).first()
        if report is None or report.confidential:
            raise Open311Error(404, f"service_request_id {request_id[:20]!r} was not found")
    except Open311Error as error:
        return _error(fmt, error)
    return _respond(fmt, "service_requests", "request", [_request_entry(session, report)])


@router.get("/tokens/{token}.{fmt}", dependencies=[Depends(public)])
def token(session: DbSession, token: str, fmt: str, jurisdiction_id: str | None = None) -> Response:
    """The request id a submission token stands for."""
    try:
        fmt = _fmt(fmt)
        _jurisdiction(jurisdiction_id)
        report = None
        if 16 <= len(token) <= 64:
            report = session.scalars(select(Report).where(Report.token == token)).first()
        if report is None:
            raise Open311Error(404, "token was not found")
    except Open311Error as error:
        return _error(fmt, error)
    return _respond(
        fmt,
        "service_requests",
        "request",
        [{"service_request_id": report.number, "token": token}],
    )
