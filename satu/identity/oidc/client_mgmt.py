"""Client management API shaped like the GovStack Identity building block (eSignet):
`POST /client-mgmt/oidc-client` and `PUT /client-mgmt/oidc-client/{client_id}`.

Callers are admin systems holding an access token from this provider (client_credentials)
with the `add_oidc_client` or `update_oidc_client` scope, as the GovStack spec describes.
A caller manages only its own agency's clients and grants only ordinary scopes its own client
holds; `nik` and the management scopes are granted by an operator through the CLI, and a
client holding one is changed only there (see `delegation.py`).
Requests and answers use the spec's envelope (`requestTime`/`request`,
`responseTime`/`response`/`errors`); refused requests carry a 4xx status as well as `errors`.
Beyond the spec: `agencyId` (defaults to `relyingPartyId`), `postLogoutRedirectUris`,
`scopes`, `requirePar`, `requireDpop`, `jwksUri`, and `client_credentials` grants.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from satu.core.db import DbSession, utcnow
from satu.identity import service as identity
from satu.identity.audit import client_ip
from satu.identity.oidc.access import client_manager
from satu.identity.oidc.clients import ClientSpecError, create_client, update_client
from satu.identity.oidc.delegation import ClientAccessError, check_delegation, managed_client
from satu.identity.oidc.errors import OAuthRoute
from satu.identity.oidc.schemas import ClientOut, ClientSpec
from satu.identity.oidc.scopes import CLAIM_TO_SCOPE
from satu.identity.oidc.tokens import AccessInfo
from satu.identity.oidc.util import settings_of

router = APIRouter(route_class=OAuthRoute, tags=["client management"])


def _now() -> str:
    return utcnow().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"


def _envelope(
    response: dict[str, Any] | None, errors: list[dict[str, str]], status: int
) -> JSONResponse:
    return JSONResponse(
        {"responseTime": _now(), "response": response, "errors": errors},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _error(code: str, message: str, status: int = 400) -> JSONResponse:
    return _envelope(None, [{"errorCode": code, "errorMessage": message}], status)


def _list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ClientSpecError("invalid_request", f"{name} must be a list of strings.")
    return value


def spec_from_govstack(
    body: Any, *, client_id: str | None, existing: dict[str, Any] | None = None
) -> ClientSpec:
    """Translate a GovStack request envelope into our client registration."""
    if not isinstance(body, dict) or not isinstance(body.get("request"), dict):
        raise ClientSpecError("invalid_request", "Send {requestTime, request}.")
    if not isinstance(body.get("requestTime"), str):
        raise ClientSpecError("invalid_request", "requestTime is required.")
    req: dict[str, Any] = body["request"]
    base = existing or {}
    claims = _list(req.get("userClaims"), "userClaims")
    unknown = [c for c in claims if c not in CLAIM_TO_SCOPE]
    if unknown:
        raise ClientSpecError("invalid_claim", f"Unsupported claims: {', '.join(unknown)}.")
    scopes = _list(req.get("scopes"), "scopes") or list(
        dict.fromkeys(["openid", *(CLAIM_TO_SCOPE[c] for c in claims)])
    )
    grant_types = _list(req.get("grantTypes"), "grantTypes")
    methods = _list(req.get("clientAuthMethods"), "clientAuthMethods")
    if len(methods) != 1:
        raise ClientSpecError("invalid_client_auth", "Give exactly one clientAuthMethod.")
    if methods[0] != "private_key_jwt":
        raise ClientSpecError("invalid_client_auth", "Only private_key_jwt is accepted here.")
    public_key = req.get("publicKey", base.get("publicKey"))
    jwks_uri = req.get("jwksUri", base.get("jwks_uri"))
    jwks = None
    if isinstance(public_key, dict) and public_key:
        jwks = public_key if "keys" in public_key else {"keys": [public_key]}
    elif existing is not None:
        jwks = existing.get("jwks")
    if "refresh_token" not in grant_types and "authorization_code" in grant_types:
        grant_types = [*grant_types, "refresh_token"]
    try:
        return ClientSpec(
            client_id=client_id,
            name=req.get("clientName"),
            agency_id=req.get("agencyId") or req.get("relyingPartyId") or base.get("agency_id"),
            redirect_uris=_list(req.get("redirectUris"), "redirectUris"),
            post_logout_redirect_uris=_list(
                req.get("postLogoutRedirectUris"), "postLogoutRedirectUris"
            ),
            grant_types=grant_types,
            scopes=scopes,
            acr_values=_list(req.get("authContextRefs"), "authContextRefs"),
            auth_method="private_key_jwt",
            jwks=jwks,
            jwks_uri=jwks_uri if not jwks else None,
            require_par=bool(req.get("requirePar", False)),
            require_dpop=bool(req.get("requireDpop", False)),
            logo_uri=req.get("logoUri"),
            status=req.get("status", "active"),
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        code = {
            "client_id": "invalid_client_id",
            "name": "invalid_client_name",
            "agency_id": "invalid_rp_id",
            "logo_uri": "invalid_uri",
            "grant_types": "invalid_grant_type",
            "redirect_uris": "invalid_redirect_uri",
        }.get(field.split(".")[0], "invalid_input")
        raise ClientSpecError(code, f"{field}: {first.get('msg')}") from error


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _audit(session: Session, request: Request, info: AccessInfo, action: str, target: str) -> None:
    identity.record_audit(
        session=session,
        actor=f"client:{info.client_id}",
        action=action,
        target=f"client:{target}",
        ip=client_ip(request),
    )


def _registration(
    *,
    session: Session,
    info: AccessInfo,
    body: Any,
    client_id: str | None,
    existing: ClientOut | None = None,
) -> ClientSpec:
    """The registration a POST or PUT asks for, checked against what the caller may grant."""
    if existing is None:
        req = body.get("request") if isinstance(body, dict) else None
        client_id = req.get("clientId") if isinstance(req, dict) else None
        if not isinstance(client_id, str) or not client_id:
            raise ClientSpecError("invalid_client_id", "clientId is required.")
    spec = spec_from_govstack(
        body, client_id=client_id, existing=existing.model_dump() if existing else None
    )
    check_delegation(
        session=session, manager_client_id=info.client_id, spec=spec, existing=existing
    )
    return spec


def _refusal(error: ClientSpecError) -> JSONResponse:
    if isinstance(error, ClientAccessError):
        status = error.status
    else:
        status = 409 if error.code == "duplicate_client_id" else 400
    return _error(error.code, error.message, status)


@router.post("/client-mgmt/oidc-client")
async def create_oidc_client(
    request: Request, session: DbSession, info: AccessInfo = Depends(client_manager)
) -> JSONResponse:
    """Register a relying party (GovStack `post-client`) for the caller's own agency."""
    body = await _json(request)
    try:
        spec = _registration(session=session, info=info, body=body, client_id=None)
        created = create_client(session=session, settings=settings_of(request), spec=spec)
    except ClientSpecError as error:
        return _refusal(error)
    _audit(session, request, info, "oidc.client.created", created.client.client_id)
    return _envelope({"clientId": created.client.client_id}, [], 200)


@router.put("/client-mgmt/oidc-client/{client_id}")
async def update_oidc_client(
    client_id: str,
    request: Request,
    session: DbSession,
    info: AccessInfo = Depends(client_manager),
) -> JSONResponse:
    """Update a relying party of the caller's agency (GovStack `put-oidc-client-client_id`).

    Another agency's client answers 404 exactly like a missing one, revealing nothing. The
    client's key stays unless a new `publicKey` is given.
    """
    existing = managed_client(
        session=session, manager_client_id=info.client_id, client_id=client_id
    )
    if existing is None:
        return _error("invalid_client_id", "No such client.", 404)
    body = await _json(request)
    try:
        spec = _registration(
            session=session, info=info, body=body, client_id=client_id, existing=existing
        )
        updated = update_client(session=session, client_id=client_id, spec=spec)
    except ClientSpecError as error:
        return _refusal(error)
    _audit(session, request, info, "oidc.client.updated", updated.client_id)
    return _envelope({"clientId": updated.client_id}, [], 200)
