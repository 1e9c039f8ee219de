"""GovStack IM PubSub API (v2.0.0) on `/r1/{instance}/{memberClass}/{memberCode}/{application}`.

The path names the *room*: the publishing subsystem. Callers are exchange clients authenticated
like every `/r1` consumer (bearer token of the subsystem's OIDC client and `X-Road-Client`; the
spec's `X-GovStack-Client` header is accepted in its place). The room's own subsystem manages
its event types and publishes; other subsystems with a subscription right subscribe, and pull.
Errors are X-Road's `{type, message, detail}` with the spec's status codes. Also here: the admin
JSON API of the delivery queue (dead letters, re-queue).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from satu.core.auth import access_rule
from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.exchange import delivery, pubsub, pubsub_events, pubsub_subs
from satu.exchange.pubsub_schemas import (
    EVENT_TYPE_PATTERN,
    DeliveryInfo,
    EventTypeIn,
    PublishEventIn,
    SubscriptionIn,
)
from satu.exchange.schemas import SubsystemInfo
from satu.exchange.xroad import XRoadError
from satu.identity import service as identity

ROOM = "/r1/{instanceId}/{memberClass}/{memberCode}/{applicationCode}"
GOVSTACK_CLIENT_HEADER = "x-govstack-client"

router = APIRouter(tags=["exchange: publish/subscribe"])


def _authenticate(session: Session, request: Request) -> SubsystemInfo:
    from satu.exchange import consumer_auth

    return consumer_auth.authenticate_consumer(session=session, request=request)


def _with_xroad_client(request: Request) -> Request:
    """The request with `X-GovStack-Client` copied to `X-Road-Client` when only it is given."""
    govstack = request.headers.get(GOVSTACK_CLIENT_HEADER)
    xroad = request.headers.get("x-road-client")
    if govstack is None:
        return request
    if xroad is not None:
        if xroad != govstack:
            raise XRoadError("Client.BadRequest", "X-Road-Client and X-GovStack-Client differ.")
        return request
    scope = dict(request.scope)
    scope["headers"] = [*request.scope["headers"], (b"x-road-client", govstack.encode("latin-1"))]
    return Request(scope, request.receive)


@access_rule("exchange_client")
def pubsub_client(request: Request, session: DbSession) -> SubsystemInfo:
    """An authenticated exchange client subsystem (X-Road consumer authentication)."""
    return _authenticate(session, _with_xroad_client(request))


Caller = Annotated[SubsystemInfo, Depends(pubsub_client)]
_EVENT_TYPE = re.compile(EVENT_TYPE_PATTERN)


def event_type_of(eventType: Annotated[str, Path()]) -> str:
    """The path's event type name, refused the X-Road way when malformed."""
    if not _EVENT_TYPE.match(eventType):
        raise XRoadError(
            "Client.BadRequest",
            "eventType must be 1-100 letters, digits, '.', '_' or '-', starting with one "
            "letter or digit.",
        )
    return eventType


EventTypeName = Annotated[str, Depends(event_type_of)]


def _room(
    session: Session, instance: str, member_class: str, member_code: str, app: str
) -> SubsystemInfo:
    room = pubsub.find_room(
        session=session,
        instance=instance,
        member_class=member_class,
        member_code=member_code,
        subsystem_code=app,
    )
    if room is None:
        raise XRoadError(
            "Server.ClientProxy.UnknownMember",
            f"No such room (subsystem) {instance}/{member_class}/{member_code}/{app}.",
        )
    return room


def room_of(
    session: DbSession,
    instanceId: Annotated[str, Path(max_length=100)],
    memberClass: Annotated[str, Path(max_length=100)],
    memberCode: Annotated[str, Path(max_length=100)],
    applicationCode: Annotated[str, Path(max_length=100)],
) -> SubsystemInfo:
    """The room named by the path (404 X-Road error when unknown)."""
    return _room(session, instanceId, memberClass, memberCode, applicationCode)


Room = Annotated[SubsystemInfo, Depends(room_of)]


def _owner_only(room: SubsystemInfo, caller: SubsystemInfo) -> None:
    if room.id != caller.id:
        raise XRoadError(
            "Client.AccessDenied", "Only the room's own subsystem manages and publishes its events."
        )


def _parse(model: Any, body: Any) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(body)"
        raise XRoadError("Client.BadRequest", f"Invalid request: {where}: {first['msg']}") from None


JsonBody = Annotated[Any, Body()]


# --- event types (room manager) --------------------------------------------------------------


@router.post(ROOM + "/api/v1/eventType", summary="Create event type")
def create_event_type(
    caller: Caller, room: Room, session: DbSession, body: JsonBody = None
) -> JSONResponse:
    _owner_only(room, caller)
    data = _parse(EventTypeIn, body)
    out = pubsub.create_event_type(session=session, publisher=room, data=data)
    return JSONResponse(out.model_dump(mode="json", by_alias=True), status_code=200)


@router.get(ROOM + "/api/v1/eventType", summary="List event types")
def list_event_types(caller: Caller, room: Room, session: DbSession) -> Response:
    names = pubsub.list_event_types(session=session, publisher=room)
    if not names:
        return Response(status_code=204)
    return JSONResponse(names)


@router.get(ROOM + "/api/v1/eventType/{eventType}", summary="Get event type")
def get_event_type(
    caller: Caller, room: Room, session: DbSession, eventType: EventTypeName
) -> Response:
    out = pubsub.get_event_type(session=session, publisher=room, event_type=eventType)
    if out is None:
        return Response(status_code=204)
    return JSONResponse(out.model_dump(mode="json", by_alias=True))


@router.delete(ROOM + "/api/v1/eventType/{eventType}", status_code=204, summary="Delete event type")
def delete_event_type(
    caller: Caller, room: Room, session: DbSession, eventType: EventTypeName
) -> Response:
    _owner_only(room, caller)
    pubsub.delete_event_type(session=session, publisher=room, event_type=eventType)
    return Response(status_code=204)


# --- publishing --------------------------------------------------------------------------------


@router.post(ROOM + "/pub/v1/{eventType}", status_code=201, summary="Publish event")
def publish_event(
    request: Request,
    caller: Caller,
    room: Room,
    session: DbSession,
    eventType: EventTypeName,
    body: JsonBody = None,
) -> JSONResponse:
    from satu.exchange import lawful

    _owner_only(room, caller)
    data = _parse(PublishEventIn, body)
    if data.eventType != eventType:
        raise XRoadError("Client.BadRequest", "eventType in the body differs from the path.")
    headers = request.headers
    nik = None
    if headers.get("x-road-userid"):
        nik = lawful.subject_nik(session=session, user_id=headers.get("x-road-userid"))
    purpose = ""
    if headers.get(lawful.PURPOSE_HEADER):
        purpose = lawful.check_purpose(headers.get(lawful.PURPOSE_HEADER))
    transaction_id = (headers.get("x-road-id") or "")[:100] or None
    item = pubsub_events.publish(
        session=session,
        publisher=room,
        event_type=eventType,
        payload=data.event,
        nik=nik,
        transaction_id=transaction_id,
        purpose=purpose,
    )
    # The request's transaction commits (log entry included) before this answer leaves.
    return JSONResponse({"id": item.id}, status_code=201)


@router.get(ROOM + "/pub/v1/{eventType}/{eventId}", summary="Published event status")
def event_status(
    caller: Caller,
    room: Room,
    session: DbSession,
    eventType: EventTypeName,
    eventId: str,
) -> JSONResponse:
    _owner_only(room, caller)
    status = pubsub_events.event_status(
        session=session, publisher=room, event_type=eventType, event_id=eventId
    )
    return JSONResponse(status.model_dump(mode="json"))


@router.delete(ROOM + "/pub/v1/{eventType}/{eventId}", status_code=204, summary="Stop event")
def delete_event(
    caller: Caller,
    room: Room,
    session: DbSession,
    eventType: EventTypeName,
    eventId: str,
) -> Response:
    _owner_only(room, caller)
    pubsub_events.cancel_event(
        session=session, publisher=room, event_type=eventType, event_id=eventId
    )
    return Response(status_code=204)


# --- subscriptions -----------------------------------------------------------------------------


@router.get(ROOM + "/api/v1/subs", summary="List my subscriptions")
def list_subscriptions(caller: Caller, room: Room, session: DbSession) -> JSONResponse:
    subs = pubsub_subs.list_subscriptions(session=session, publisher=room, subscriber=caller)
    if not subs:
        raise pubsub.not_found("Subscription missing.")
    return JSONResponse([s.model_dump(mode="json") for s in subs])


def _with_purpose(request: Request, item: SubscriptionIn) -> SubscriptionIn:
    """The item with the purpose the request states: `X-Road-Purpose`, or Satu's `purpose` field.

    Either is checked with the gateway's rule (Client.MissingPurpose when malformed; a header
    that is sent must hold a purpose); both may be given if they agree. None when neither is.
    """
    from satu.exchange import lawful

    header = request.headers.get(lawful.PURPOSE_HEADER)
    stated = lawful.check_purpose(header) if header is not None else None
    if item.purpose is not None:
        in_body = lawful.check_purpose(item.purpose)
        if stated is not None and stated != in_body:
            raise XRoadError(
                "Client.BadRequest", f"{lawful.PURPOSE_HEADER} and purpose in the body differ."
            )
        stated = in_body
    return item.model_copy(update={"purpose": stated})


@router.post(ROOM + "/api/v1/subs/{eventType}", summary="Add subscription")
def add_subscription(
    request: Request,
    caller: Caller,
    room: Room,
    session: DbSession,
    eventType: EventTypeName,
    body: JsonBody = None,
) -> JSONResponse:
    item = _with_purpose(request, _parse(SubscriptionIn, body if body is not None else {}))
    out = pubsub_subs.subscribe(
        session=session, publisher=room, event_type=eventType, subscriber=caller, item=item
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=200)


@router.get(ROOM + "/api/v1/subs/{eventType}", summary="Get subscription")
def get_subscription(
    caller: Caller, room: Room, session: DbSession, eventType: EventTypeName
) -> JSONResponse:
    out = pubsub_subs.get_subscription(
        session=session, publisher=room, event_type=eventType, subscriber=caller
    )
    return JSONResponse(out.model_dump(mode="json"))


@router.patch(ROOM + "/api/v1/subs/{eventType}", status_code=201, summary="Update subscription")
def patch_subscription(
    request: Request,
    caller: Caller,
    room: Room,
    session: DbSession,
    eventType: EventTypeName,
    body: JsonBody = None,
) -> JSONResponse:
    item = _with_purpose(request, _parse(SubscriptionIn, body if body is not None else {}))
    out = pubsub_subs.update_subscription(
        session=session, publisher=room, event_type=eventType, subscriber=caller, item=item
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.delete(ROOM + "/api/v1/subs/{eventType}", status_code=204, summary="Cancel subscription")
def delete_subscription(
    caller: Caller, room: Room, session: DbSession, eventType: EventTypeName
) -> Response:
    pubsub_subs.unsubscribe(
        session=session, publisher=room, event_type=eventType, subscriber=caller
    )
    return Response(status_code=204)


# --- pull --------------------------------------------------------------------------------------


@router.get(ROOM + "/pull/v1/{eventType}", summary="Next unacknowledged event")
def pull_event(
    caller: Caller, room: Room, session: DbSession, eventType: EventTypeName
) -> JSONResponse:
    item = pubsub_events.pull_next(
        session=session, publisher=room, event_type=eventType, subscriber=caller
    )
    if item is None:
        raise pubsub.not_found("No event available.")
    return JSONResponse(item.model_dump(mode="json"))


@router.delete(ROOM + "/pull/v1/{eventType}/{eventId}", status_code=204, summary="Confirm event")
def confirm_event(
    caller: Caller,
    room: Room,
    session: DbSession,
    eventType: EventTypeName,
    eventId: str,
) -> Response:
    pubsub_events.acknowledge(
        session=session, publisher=room, event_type=eventType, subscriber=caller, event_id=eventId
    )
    return Response(status_code=204)


# --- admin: the delivery queue -----------------------------------------------------------------

ADMIN = "/api/v1/exchange/events/deliveries"


@access_rule("admin")
def events_admin(request: Request, session: DbSession) -> str:
    """A signed-in holder of the global `admin` role (their account id)."""
    login = identity.current_login(session=session, request=request)
    if login is None:
        raise Problem("unauthorized", "Sign in to continue.")
    context = identity.officer_context(session=session, account_id=login.account_id)
    if context is None or not context.is_admin:
        raise Problem("forbidden", "This needs the administrator role.")
    return login.account_id


Admin = Annotated[str, Depends(events_admin)]


@router.get(ADMIN, summary="Deliveries by status (dead letters by default)")
def admin_deliveries(
    admin: Admin,
    session: DbSession,
    status: Annotated[str, Query(pattern="^(" + "|".join(pubsub.STATUSES) + ")$")] = "dead",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DeliveryInfo]:
    return delivery.list_deliveries(session=session, status=status, limit=limit, offset=offset)


@router.post(
    ADMIN + "/{delivery_id}/requeue",
    summary="Re-queue a dead delivery",
)
def admin_requeue(
    admin: Admin, session: DbSession, delivery_id: Annotated[int, Path(ge=1, le=2**62)]
) -> dict[str, int]:
    count = delivery.requeue(session=session, delivery_ids=[delivery_id])
    if not count:
        raise Problem("not-found", "No dead delivery with this id.")
    return {"requeued": count}
