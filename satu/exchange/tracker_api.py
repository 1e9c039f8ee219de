"""Data Tracker API compatible with Estonia's Andmejälgija (`GET /v2/findUsage`, v2.0.0).

Satu answers it centrally from the transparency log, so every service of every member is covered
without any agency opting in. Who may ask about resident R (named in `X-Road-UserId`, as
`ID` + NIK or the bare NIK):

- R themself, signed in to Satu (session cookie);
- R's app: an access token (Bearer, or DPoP with its proof) that Satu's provider issued to R's
  account through the authorization-code flow with the `data_usage` scope, sent without
  `X-Road-Client`. The identity domain checks the token and resolves its pairwise subject to the
  NIK (`identity.verify_resident_token`); the NIK never appears in the token. A bad, expired or
  revoked token or proof answers 401, a token without the scope 403, another resident's NIK 403
  (after `NIK_MISMATCHES_PER_HOUR` of those, the resident's app tokens get 429 for an hour, so
  an app cannot find the NIK by trying: 200 against 403 would tell it).
  The app acts as R, so its reads are not logged (its token issuance is, in identity's audit);
- an exchange client subsystem (bearer token of its OIDC client plus `X-Road-Client`, the same
  authentication as on `/r1`) whose agency holds R's standing consent; such a call concerns R's
  data, so it is itself appended to the transparency log (it then shows in R's tracker).

Representation (`userCode` different from `X-Road-UserId`) is not supported (403).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from satu.core.auth import access_rule, public
from satu.core.db import DbSession, utcnow
from satu.core.errors import Problem
from satu.core.ratelimit import RateLimits
from satu.exchange import tracker
from satu.exchange.schemas import LogRecordIn, SubsystemInfo
from satu.exchange.xroad import XRoadError
from satu.identity import service as identity

router = APIRouter(tags=["exchange: data tracker"])

USER_ID_HEADER = "X-Road-UserId"
# Wrong NIKs a resident's app tokens may name per hour before they are refused (429) for any NIK.
# Wrong NIKs a resident's app tokens may name in a moving hour before they are paused.
NIK_MISMATCHES_PER_HOUR = max(
    1, int(os.environ.get("SATU_EXCHANGE_TRACKER_GUESSES_PER_HOUR", "10"))
)
NIK_MISMATCH_NAMESPACE = "tracker-app-nik-mismatch"


@dataclass(frozen=True)
class UsageReader:
    """Who asks, and about whom."""

    nik: str
    client: SubsystemInfo | None = None  # None: the resident themself
    consent_id: str | None = None


def _nik_from_header(session: Session, value: str | None) -> str:
    from satu.exchange import lawful

    if value and value.strip().isdigit():
        value = "ID" + value.strip()
    try:
        return lawful.subject_nik(session=session, user_id=value)
    except XRoadError as exc:
        raise Problem("validation-error", exc.message) from None


@access_rule("resident_or_consented_client")
def usage_reader(request: Request, session: DbSession) -> UsageReader:
    """The resident (session or app token), or an exchange client with the resident's consent."""
    nik = _nik_from_header(session, request.headers.get(USER_ID_HEADER))
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith(("bearer ", "dpop ")):
        if "x-road-client" not in request.headers:
            return _resident_app(request, session, nik)
        from satu.exchange import consumer_auth

        try:
            client = consumer_auth.authenticate_consumer(session=session, request=request)
        except XRoadError as exc:
            raise Problem("unauthorized", exc.message) from None
        consent = identity.consent_for_agency(session=session, nik=nik, agency_id=client.agency_id)
        if consent is None:
            raise Problem(
                "forbidden",
                "The resident has not consented to share data with your agency, so you may not "
                "read their data usage.",
            )
        return UsageReader(nik=nik, client=client, consent_id=consent.consent_id)
    login = identity.current_login(session=session, request=request)
    if login is None:
        raise Problem(
            "unauthorized",
            "Sign in to Satu, call with your app's access token (data_usage scope), or call as "
            "an exchange client with the resident's consent.",
            headers={"WWW-Authenticate": 'Bearer realm="satu-exchange"'},
        )
    if login.resident_nik != nik:
        raise Problem("forbidden", "You may read only your own data usage.")
    return UsageReader(nik=nik)


def _resident_app(request: Request, session: Session, nik: str) -> UsageReader:
    """The resident themself, through their app's access token (no X-Road-Client)."""
    try:
        own = identity.verify_resident_token(
            session=session, request=request, scope=identity.DATA_USAGE_SCOPE
        )
    except identity.TokenRefused as refused:
        slug = "forbidden" if refused.status == 403 else "unauthorized"
        raise Problem(slug, refused.description, headers=refused.headers) from None
    # 200 for the resident's NIK and 403 for another would let an app without the `nik` scope
    # find the NIK by trying: after a few wrong ones, this resident's app tokens are paused.
    limits: RateLimits = request.app.state.rate_limits
    wait = limits.exhausted(NIK_MISMATCH_NAMESPACE, own, NIK_MISMATCHES_PER_HOUR)
    if wait is not None:
        raise Problem(
            "rate-limited",
            "Too many requests named another person with this resident's token; try again later.",
            headers={"Retry-After": str(wait)},
        )
    if own != nik:
        limits.hit(NIK_MISMATCH_NAMESPACE, own, NIK_MISMATCHES_PER_HOUR)
        raise Problem("forbidden", "You may read only your own data usage.")
    return UsageReader(nik=nik)


Reader = Annotated[UsageReader, Depends(usage_reader)]


def _when(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Problem(
            "validation-error", f"{name} must be an ISO 8601 date-time (2021-01-31T10:20:30Z)."
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _usage(record: tracker.UsageRecord) -> dict[str, Any]:
    first = record.receivers[0] if record.receivers else tracker.Party()
    return {
        "logtime": record.logged_at.isoformat().replace("+00:00", "Z"),
        "action": record.action,
        "receiverCode": first.member_code,
        "receiverName": first.agency_name,
        "receiverSystem": first.system,
        "receivers": [
            {"code": p.member_code, "name": p.agency_name, "system": p.system}
            for p in record.receivers
        ],
        "senderCode": record.sender.member_code,
        "senderName": record.sender.agency_name,
        "senderSystem": record.sender.system,
        "actionCode": record.service_code,
        "xroadService": record.service_id,
        "queryId": record.transaction_id,
        "purpose": record.purpose,
        "legalBasis": record.legal_basis or None,
        "consentReference": record.lawful_basis_ref
        if record.lawful_basis_kind == "consent"
        else None,
        "mandateReference": record.lawful_basis_ref
        if record.lawful_basis_kind == "mandate"
        else None,
        "outcome": record.outcome,
        "restrictions": "A",
        "logIndex": record.index,
    }


def _log_client_read(session: Session, reader: UsageReader, returned: int) -> None:
    from satu.core.config import get_settings
    from satu.exchange import transparency

    assert reader.client is not None
    instance = get_settings().exchange_instance
    transparency.append(
        session=session,
        record=LogRecordIn(
            kind="exchange",
            logged_at=utcnow(),
            transaction_id=str(uuid.uuid4()),
            request_id=str(uuid.uuid4()),
            client_id=reader.client.xroad_id,
            client_agency_id=reader.client.agency_id,
            service_id=f"{instance}/satu/tracker/findUsage",
            provider_agency_id="",
            method="GET",
            operation="GET /v2/findUsage",
            nik=reader.nik,
            purpose="data-tracker",
            lawful_basis=f"consent:{reader.consent_id}",
            status=200,
            outcome=f"ok ({returned} records)",
        ),
    )


@router.get("/v2/findUsage", summary="Data usage of a resident (Estonia Data Tracker v2)")
def find_usage(
    reader: Reader,
    session: DbSession,
    userCode: Annotated[str | None, Query(max_length=20)] = None,
    periodStart: Annotated[str | None, Query(max_length=40)] = None,
    periodEnd: Annotated[str | None, Query(max_length=40)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=tracker.MAX_LIMIT)] = tracker.MAX_LIMIT,
) -> dict[str, Any]:
    """`{totalUsages, usages: [{logtime, action, receiverCode, receiverName, ...}]}`."""
    if userCode is not None and _nik_from_header(session, userCode) != reader.nik:
        raise Problem(
            "forbidden", "Asking on behalf of another person (representation) is not supported."
        )
    start, end = _when(periodStart, "periodStart"), _when(periodEnd, "periodEnd")
    if start and end and start > end:
        raise Problem("validation-error", "periodStart must not be after periodEnd.")
    page = tracker.find_usage(
        session=session,
        nik=reader.nik,
        period_start=start,
        period_end=end,
        offset=offset,
        limit=limit,
    )
    if reader.client is not None:
        _log_client_read(session, reader, len(page.records))
    return {"totalUsages": page.total, "usages": [_usage(r) for r in page.records]}


@router.get("/v2/usagePeriod", summary="Period the data tracker holds records for")
def usage_period(session: DbSession, _: None = Depends(public)) -> dict[str, str]:
    oldest = tracker.oldest_usage(session=session) or utcnow()
    return {"periodStart": oldest.isoformat().replace("+00:00", "Z")}


@router.get("/v2/heartbeat", summary="Data tracker liveness")
def heartbeat(_: None = Depends(public)) -> dict[str, str]:
    return {"status": "OK", "message": "API is ready"}
