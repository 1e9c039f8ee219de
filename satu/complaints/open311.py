"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), in JSON and XML.

Existing 311 apps and SMS/social-media gateways submit here with an `api_key`. Satu's
extensions travel as service attributes: `report_type`, `anonymous`, `confidential`, and
`address_id` carries the region code (Kode Wilayah) down to the village. Remote `media_url`s
are never fetched (no server-side requests to addresses a client chooses).

The pieces live beside this module, which keeps the routes (in their order) and re-exports
the rest: the wire format and `Open311Error` in `open311_render.py`, parsing what clients send
in `open311_params.py`, api keys in `open311_keys.py`, and the service and request entries in
`open311_entries.py`.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import or_, select

from satu.complaints.intake import file_report
from satu.complaints.limits import check_intake_rate, client_ip
from satu.complaints.models import Report, Service
from satu.complaints.open311_entries import ATTRIBUTES as ATTRIBUTES
from satu.complaints.open311_entries import CLOSED as CLOSED
from satu.complaints.open311_entries import OPEN as OPEN
from satu.complaints.open311_entries import _memo as _memo
from satu.complaints.open311_entries import _request_entry as _request_entry
from satu.complaints.open311_entries import _service_entry as _service_entry
from satu.complaints.open311_entries import _status_notes as _status_notes
from satu.complaints.open311_keys import _client as _client
from satu.complaints.open311_keys import _hash as _hash
from satu.complaints.open311_keys import create_api_key as create_api_key
from satu.complaints.open311_keys import revoke_api_key as revoke_api_key
from satu.complaints.open311_params import _flag as _flag
from satu.complaints.open311_params import _float as _float
from satu.complaints.open311_params import _jurisdiction as _jurisdiction
from satu.complaints.open311_params import _parse_when as _parse_when
from satu.complaints.open311_params import _validation_message as _validation_message
from satu.complaints.open311_render import _FORMATS as _FORMATS
from satu.complaints.open311_render import _ITEM_TAGS as _ITEM_TAGS
from satu.complaints.open311_render import Open311Error as Open311Error
from satu.complaints.open311_render import _error as _error
from satu.complaints.open311_render import _fmt as _fmt
from satu.complaints.open311_render import _iso as _iso
from satu.complaints.open311_render import _respond as _respond
from satu.complaints.open311_render import _text as _text
from satu.complaints.open311_render import _xml_value as _xml_value
from satu.complaints.schemas import Reporter, ReportIn
from satu.core.auth import public
from satu.core.db import DbSession, utcnow
from satu.core.errors import Problem

router = APIRouter(prefix="/open311/v2", tags=["open311"])
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-29T00:00:00Z"
MAX_RESULTS = 1000
DEFAULT_DAYS = 90


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
