"""GovStack IM Configuration Management API: configuration, status, access rights allow/deny.

Administrators only (identity's global `admin` role, signed in): Satu's provider has no
`read:rights`/`write:rights` scopes yet, so machines use the registry CLI on the server.

IMconf maps onto the registry: `instance` = SATU_EXCHANGE_INSTANCE, `domain` = the public
host, `members` = agencies with subsystems (`class`/`code` = member class/code), `applications`
= subsystems, `services` = registered services (`serviceUrl` = backend base URL, `specUrl` = the
getOpenAPI metaservice), `rights` = whole-service access rights. The configuration is read-only
here (GET): services are registered with their OpenAPI document through
`/api/v1/exchange/services` or `satu exchange service add`, and Satu never fetches a `specUrl`.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from satu.core.config import get_settings
from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.exchange import registry
from satu.exchange.edge import exchange_admin
from satu.exchange.schemas import Actor
from satu.exchange.xroad import ClientId, ServiceId
from satu.satudata import service as satudata

router = APIRouter(prefix="/api/v1", tags=["exchange configuration (GovStack IM)"])
Admin = Annotated[Actor, Depends(exchange_admin)]
Part = Annotated[str | None, Query(max_length=100)]


class AllowedApplication(BaseModel):
    """A member's application (subsystem) that is allowed or denied."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    member_class: str = Field(alias="memberClass", max_length=16)
    member_code: str = Field(alias="memberCode", max_length=64)
    application_id: str = Field(alias="applicationId", max_length=64)


class ServiceAccessRights(BaseModel):
    """Which applications may (or may no longer) call one service."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    member_class: str = Field(alias="memberClass", max_length=16)
    member_code: str = Field(alias="memberCode", max_length=64)
    application_id: str = Field(alias="applicationId", max_length=64)
    service_id: str = Field(alias="serviceId", max_length=100)
    rights: list[AllowedApplication] = Field(max_length=1000)


def _instance() -> str:
    return get_settings().exchange_instance


@router.get("/config", summary="The IM configuration (IMconf)")
def get_config(session: DbSession, actor: Admin) -> dict[str, Any]:
    """Members, their applications (subsystems), services and whole-service rights."""
    settings = get_settings()
    public = settings.public_url.rstrip("/")
    members: dict[tuple[str, str], dict[str, Any]] = {}
    applications: dict[int, dict[str, Any]] = {}
    subsystems = registry.list_subsystems(session=session)
    names = satudata.agency_names(session=session, agency_ids={s.member_code for s in subsystems})
    for sub in subsystems:
        key = (sub.member_class, sub.member_code)
        if key not in members:
            members[key] = {
                "name": names.get(sub.member_code, sub.member_code),
                "class": sub.member_class,
                "code": sub.member_code,
                "applications": [],
            }
        app = {"id": sub.subsystem_code, "services": []}
        applications[sub.id] = app
        members[key]["applications"].append(app)
    for service in registry.list_services(session=session, include_events=False):
        app = applications.get(service.provider.id)
        if app is None:
            continue
        rights = [
            {"member": r.client.split("/")[2], "application": r.client.split("/")[3]}
            for r in registry.list_rights(session=session, service_id=service.id)
            if r.operation is None
        ]
        app["connection"] = urlsplit(service.base_url).scheme
        app["services"].append(
            {
                "id": service.service_code,
                "specUrl": f"{public}/r1/{service.provider.xroad_id}/getOpenAPI"
                f"?serviceCode={quote(service.service_code, safe='')}",
                "serviceUrl": service.base_url,
                "rights": rights,
            }
        )
    return {
        "domain": urlsplit(public).hostname or "",
        "instance": settings.exchange_instance,
        "members": list(members.values()),
    }


@router.get("/status", summary="Whether the exchange is working")
def status(session: DbSession, actor: Admin) -> dict[str, Any]:
    """The database answers; counts of what the registry holds."""
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # pragma: no cover - a dead database
        raise Problem("service-unavailable", "The database does not answer.") from exc
    return {
        "status": "ok",
        "instance": _instance(),
        "subsystems": len(registry.list_subsystems(session=session)),
        "services": len(registry.list_services(session=session, include_events=False)),
    }


def _encode_token(after_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after_id}).encode()).decode().rstrip("=")


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        after = json.loads(raw)["after"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Problem("malformed-request", "nextPageToken is not one this API gave.") from exc
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise Problem("malformed-request", "nextPageToken is not one this API gave.")
    return after


@router.get("/rights/allow", summary="Access rights, page by page")
def get_allowed(
    session: DbSession,
    actor: Admin,
    member_class: Annotated[Part, Query(alias="memberClass")] = None,
    member_code: Annotated[Part, Query(alias="memberCode")] = None,
    application_id: Annotated[Part, Query(alias="applicationId")] = None,
    service_id: Annotated[Part, Query(alias="serviceId")] = None,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=1000)] = 100,
    next_page_token: Annotated[str | None, Query(alias="nextPageToken", max_length=200)] = None,
) -> dict[str, Any]:
    """Whole-service and per-operation rights, grouped by service; filter by the provider."""
    after = _decode_token(next_page_token)
    rows = registry.list_rights(session=session, after_id=after, limit=page_size + 1)
    more = len(rows) > page_size
    rows = rows[:page_size]
    grouped: dict[str, dict[str, Any]] = {}
    for right in rows:
        _i, cls, code, app, service = right.service.split("/")
        if registry.is_event_service(unquote(service)):
            continue  # a subscription right of pub/sub, not a right to call a service
        if (member_class and cls != member_class) or (member_code and code != member_code):
            continue
        if (application_id and app != application_id) or (service_id and service != service_id):
            continue
        entry = grouped.setdefault(
            right.service,
            {
                "memberClass": cls,
                "memberCode": code,
                "applicationId": app,
                "serviceId": service,
                "rights": [],
            },
        )
        _ci, ccls, ccode, capp = right.client.split("/")
        item = {"memberClass": ccls, "memberCode": ccode, "applicationId": capp}
        if right.operation:
            item["operation"] = right.operation
        entry["rights"].append(item)
    body: dict[str, Any] = {"allowList": list(grouped.values())}
    if more and rows:
        body["nextPageToken"] = _encode_token(rows[-1].id)
    return body


def _resolve(session: DbSession, data: ServiceAccessRights) -> tuple[int, list[int]]:
    provider = ClientId(_instance(), data.member_class, data.member_code, data.application_id)
    service = registry.resolve_service(
        session=session, service=ServiceId(provider, data.service_id)
    )
    if service is None:
        raise Problem("not-found", f"No service {provider}/{data.service_id}.")
    clients = []
    for allowed in data.rights:
        client = registry.resolve_client(
            session=session,
            client=ClientId(
                _instance(), allowed.member_class, allowed.member_code, allowed.application_id
            ),
        )
        if client is None:
            raise Problem(
                "not-found",
                f"No application {allowed.member_class}/{allowed.member_code}/"
                f"{allowed.application_id}.",
            )
        clients.append(client.id)
    return service.id, clients


@router.patch("/rights/allow", summary="Allow applications to call services")
def set_allowed(
    data: Annotated[list[ServiceAccessRights], Field(max_length=1000)],
    session: DbSession,
    actor: Admin,
) -> dict[str, int]:
    """Grant whole-service rights (existing rights stay); all or nothing."""
    granted = 0
    for item in data:
        service_id, clients = _resolve(session, item)
        for client_id in clients:
            registry.grant_access(
                session=session, actor=actor, service_id=service_id, client_subsystem_id=client_id
            )
            granted += 1
    return {"allowed": granted}


@router.patch("/rights/deny", summary="Deny applications access to services")
def set_denied(
    data: Annotated[list[ServiceAccessRights], Field(max_length=1000)],
    session: DbSession,
    actor: Admin,
) -> dict[str, int]:
    """Remove every right (whole-service and per-operation) of the applications; all or nothing."""
    removed = 0
    for item in data:
        service_id, clients = _resolve(session, item)
        for client_id in clients:
            for right in registry.list_rights(
                session=session, service_id=service_id, client_subsystem_id=client_id
            ):
                registry.revoke_access(session=session, actor=actor, right_id=right.id)
                removed += 1
    return {"denied": removed}
