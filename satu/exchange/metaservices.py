"""Discovery metaservices, as X-Road (PR-META, PR-MREST) and the GovStack Information Mediator
Directory Services API define them.

- `GET /listClients[?instanceId=]`: members and subsystems. JSON by default; X-Road's XML
  `clientList` when the caller asks for `application/xml` or `text/xml`.
- `GET /r1/{INSTANCE}/{CLASS}/{CODE}/{SUBSYSTEM}/listMethods[?serviceId=]`: the provider's
  enabled REST services and their exposed operations.
- `.../allowedMethods[?serviceId=]`: the same, narrowed to what the calling subsystem may call;
  the caller is authenticated like any gateway call (Bearer token + `X-Road-Client`).
- `.../getOpenAPI?serviceCode=X`: the service's OpenAPI document, its `servers` pointing at
  the gateway, never at the provider's backend.

Pub/sub's internal `event:{eventType}` services (which only carry subscription rights) are never
listed or described here: event types are discovered through the PubSub API of the room.

listClients, listMethods and getOpenAPI are public: they describe what exists, never data
or a backend address. Each JSON answer carries both vocabularies: X-Road's snake_case
(`service`, `endpoint_list`, `xroad_instance`, ...) and GovStack's camelCase (`member`,
`endpointList`, `instanceId`, ...), so clients of either read it unchanged. Errors are X-Road's.
"""

from __future__ import annotations

import copy
import re
from typing import Annotated, Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from satu.core.auth import public
from satu.core.config import get_settings
from satu.core.db import DbSession
from satu.exchange import registry
from satu.exchange.consumer_auth import exchange_client
from satu.exchange.registry_openapi import operation_label
from satu.exchange.schemas import ServiceInfo, SubsystemInfo
from satu.exchange.xroad import PART_PATTERN, ClientId, XRoadError
from satu.satudata import service as satudata

router = APIRouter(tags=["exchange metaservices"])
_PART = re.compile(PART_PATTERN)
Part = Annotated[str, Query(max_length=100)]
XROAD_XSD = "http://x-road.eu/xsd/xroad.xsd"
IDENTIFIERS_XSD = "http://x-road.eu/xsd/identifiers"


def _provider(
    session: Session, instance: str, member_class: str, code: str, sub: str
) -> SubsystemInfo:
    for value in (instance, member_class, code, sub):
        if not _PART.match(value):
            raise XRoadError("Client.BadRequest", "Invalid service provider identifier.")
    found = registry.resolve_client(
        session=session, client=ClientId(instance, member_class, code, sub)
    )
    if found is None or not found.enabled:
        raise XRoadError(
            "Server.ClientProxy.UnknownMember", "No such service provider subsystem on Satu."
        )
    return found


def _service_entry(service: ServiceInfo, operations: list[Any]) -> dict[str, Any]:
    provider = service.provider
    endpoints = [{"method": op.method, "path": op.path} for op in operations]
    return {
        # X-Road PR-MREST
        "object_type": "SERVICE",
        "xroad_instance": provider.instance,
        "member_class": provider.member_class,
        "member_code": provider.member_code,
        "subsystem_code": provider.subsystem_code,
        "service_code": service.service_code,
        "service_type": "OPENAPI",
        "endpoint_list": endpoints,
        # GovStack IM Directory Services
        "objectType": "SERVICE",
        "serviceType": "OPENAPI",
        "instanceId": provider.instance,
        "memberClass": provider.member_class,
        "memberCode": provider.member_code,
        "applicationCode": provider.subsystem_code,
        "serviceCode": service.service_code,
        "endpointList": {"member": endpoints},
    }


def _services_body(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"service": entries, "member": entries}


def _services_of(
    session: Session, provider: SubsystemInfo, service_filter: str | None
) -> list[ServiceInfo]:
    found = [
        s
        for s in registry.list_services(
            session=session, subsystem_id=provider.id, include_events=False
        )
        if s.enabled
    ]
    if service_filter:
        wanted = service_filter.rsplit("/", 1)[-1]
        found = [s for s in found if s.service_code == wanted]
    return found


@router.get("/listClients", dependencies=[Depends(public)], summary="Members and subsystems")
def list_clients(
    request: Request,
    session: DbSession,
    instance_id: Annotated[str | None, Query(alias="instanceId", max_length=100)] = None,
) -> Response:
    """Every member with a registered subsystem, and every enabled subsystem."""
    instance = get_settings().exchange_instance
    if instance_id is not None and instance_id != instance:
        raise XRoadError(
            "Client.BadRequest", f"Unknown instance; this Satu serves instance {instance}."
        )
    subsystems = registry.list_subsystems(session=session, enabled_only=True)
    names = satudata.agency_names(session=session, agency_ids={s.member_code for s in subsystems})
    members = {
        (sub.member_class, sub.member_code): names.get(sub.member_code, sub.member_code)
        for sub in subsystems
    }
    entries: list[tuple[dict[str, str], str]] = []
    for (member_class, member_code), name in members.items():
        entries.append(
            (
                {"object_type": "MEMBER", "member_class": member_class, "member_code": member_code},
                name,
            )
        )
    for sub in subsystems:
        entries.append(
            (
                {
                    "object_type": "SUBSYSTEM",
                    "member_class": sub.member_class,
                    "member_code": sub.member_code,
                    "subsystem_code": sub.subsystem_code,
                },
                sub.name,
            )
        )
    if _wants_xml(request):
        return Response(_clients_xml(instance, entries), media_type="text/xml; charset=utf-8")
    body = []
    for ident, name in entries:
        item = {
            "xroad_instance": instance,
            **ident,
            "objectType": "APPLICATION" if ident["object_type"] == "SUBSYSTEM" else "MEMBER",
            "instanceId": instance,
            "memberClass": ident["member_class"],
            "memberCode": ident["member_code"],
        }
        if "subsystem_code" in ident:
            item["applicationCode"] = ident["subsystem_code"]
        body.append({"id": item, "name": name})
    return JSONResponse({"member": body})


def _wants_xml(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    if "json" in accept:
        return False
    return "application/xml" in accept or "text/xml" in accept


def _clients_xml(instance: str, entries: list[tuple[dict[str, str], str]]) -> bytes:
    ET.register_namespace("xroad", XROAD_XSD)
    ET.register_namespace("id", IDENTIFIERS_XSD)
    root = ET.Element(f"{{{XROAD_XSD}}}clientList")
    for ident, name in entries:
        member = ET.SubElement(root, f"{{{XROAD_XSD}}}member")
        id_el = ET.SubElement(
            member, f"{{{XROAD_XSD}}}id", {f"{{{IDENTIFIERS_XSD}}}objectType": ident["object_type"]}
        )
        ET.SubElement(id_el, f"{{{IDENTIFIERS_XSD}}}xRoadInstance").text = instance
        ET.SubElement(id_el, f"{{{IDENTIFIERS_XSD}}}memberClass").text = ident["member_class"]
        ET.SubElement(id_el, f"{{{IDENTIFIERS_XSD}}}memberCode").text = ident["member_code"]
        if "subsystem_code" in ident:
            ET.SubElement(id_el, f"{{{IDENTIFIERS_XSD}}}subsystemCode").text = ident[
                "subsystem_code"
            ]
        ET.SubElement(member, f"{{{XROAD_XSD}}}name").text = name
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


PROVIDER_PATH = "/r1/{instance}/{member_class}/{member_code}/{subsystem_code}"


@router.get(f"{PROVIDER_PATH}/listMethods", dependencies=[Depends(public)])
def list_methods(
    instance: str,
    member_class: str,
    member_code: str,
    subsystem_code: str,
    session: DbSession,
    service_id: Annotated[str | None, Query(alias="serviceId", max_length=500)] = None,
) -> JSONResponse:
    """The provider's REST services and their exposed operations."""
    provider = _provider(session, instance, member_class, member_code, subsystem_code)
    entries = [
        _service_entry(s, list(s.operations)) for s in _services_of(session, provider, service_id)
    ]
    return JSONResponse(_services_body(entries))


@router.get(f"{PROVIDER_PATH}/allowedMethods")
def allowed_methods(
    instance: str,
    member_class: str,
    member_code: str,
    subsystem_code: str,
    session: DbSession,
    caller: Annotated[SubsystemInfo, Depends(exchange_client)],
    service_id: Annotated[str | None, Query(alias="serviceId", max_length=500)] = None,
) -> JSONResponse:
    """The provider's operations that the calling subsystem may call."""
    provider = _provider(session, instance, member_class, member_code, subsystem_code)
    entries = []
    for service in _services_of(session, provider, service_id):
        ops = registry.allowed_operations(
            session=session, client_subsystem_id=caller.id, service=service
        )
        if ops and caller.enabled:
            entries.append(_service_entry(service, ops))
    return JSONResponse(_services_body(entries))


@router.get(f"{PROVIDER_PATH}/getOpenAPI", dependencies=[Depends(public)])
def get_openapi(
    instance: str,
    member_class: str,
    member_code: str,
    subsystem_code: str,
    session: DbSession,
    service_code: Annotated[str | None, Query(alias="serviceCode", max_length=100)] = None,
) -> JSONResponse:
    """The OpenAPI document of one service, addressed through the gateway."""
    provider = _provider(session, instance, member_class, member_code, subsystem_code)
    if not service_code:
        raise XRoadError("Client.BadRequest", "The serviceCode query parameter is required.")
    matches = [s for s in _services_of(session, provider, None) if s.service_code == service_code]
    if not matches:
        raise XRoadError("Server.ClientProxy.UnknownService", "No such service of this provider.")
    service = matches[0]
    document = copy.deepcopy(registry.get_openapi(session=session, service_id=service.id) or {})
    gateway = f"{get_settings().public_url.rstrip('/')}/r1/{service.xroad_id}"
    document["servers"] = [{"url": gateway, "description": "Satu exchange gateway"}]
    exposed = {operation_label(op) for op in service.operations}
    paths = {}
    for path, item in (document.get("paths") or {}).items():
        kept = {
            key: value
            for key, value in item.items()
            if key.upper() not in _METHODS or f"{key.upper()} {path}" in exposed
        }
        if any(key.upper() in _METHODS for key in kept):
            kept.pop("servers", None)
            for value in kept.values():
                if isinstance(value, dict):
                    value.pop("servers", None)
            paths[path] = kept
    document["paths"] = paths
    return JSONResponse(document)


_METHODS = {"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"}
