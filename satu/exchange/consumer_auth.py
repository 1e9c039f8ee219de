"""Who is calling the exchange: the consumer subsystem behind a request.

A consumer authenticates with an OAuth 2.0 access token it obtained from Satu's OpenID
provider with the `client_credentials` grant (`Authorization: Bearer ...`). The token's client
must be linked to a registered, enabled subsystem of the same agency, and the request's
`X-Road-Client` header (required, as in X-Road) must name exactly that subsystem.

DPoP-bound tokens are refused on the exchange (Client.Unauthorized): the gateway answers
X-Road clients, which send plain Bearer tokens (a subsystem's key material is its member's
signing key, RFC 9421, not a DPoP key). Tokens issued for a resident (code flow) are refused
too: a subsystem speaks for itself, and names a resident in `X-Road-UserId`. (A resident's own
app reads only the data tracker, through identity's `verify_resident_token`.)
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from satu.core.auth import access_rule
from satu.core.db import DbSession
from satu.exchange.registry import subsystem_for_client_id
from satu.exchange.schemas import SubsystemInfo
from satu.exchange.xroad import BadIdentifier, ClientId, XRoadError
from satu.identity import service as identity

MAX_TOKEN_LENGTH = 8192


def client_header(request: Request) -> ClientId:
    """The request's `X-Road-Client` identifier; Client.BadRequest when missing or malformed."""
    values = request.headers.getlist("x-road-client") or request.headers.getlist(
        "x-govstack-client"  # the GovStack IM name of the same header
    )
    if not values:
        raise XRoadError("Client.BadRequest", "The X-Road-Client header is required.")
    if len(values) > 1:
        raise XRoadError("Client.BadRequest", "Send the X-Road-Client header once.")
    raw = values[0].strip()
    if len(raw) > 500:
        raise XRoadError("Client.BadRequest", "The X-Road-Client header is too long.")
    try:
        return ClientId.parse(raw)
    except BadIdentifier as exc:
        raise XRoadError("Client.BadRequest", f"Bad X-Road-Client header: {exc}") from exc


def bearer_token(request: Request) -> str:
    """The request's Bearer token; Client.Unauthorized without one."""
    values = request.headers.getlist("authorization")
    if not values:
        raise XRoadError(
            "Client.Unauthorized",
            "An access token is required: Authorization: Bearer <token> from Satu's "
            "OpenID provider (client_credentials).",
        )
    if len(values) > 1:
        raise XRoadError("Client.Unauthorized", "Send the Authorization header once.")
    scheme, _, token = values[0].strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "dpop":
        raise XRoadError(
            "Client.Unauthorized", "DPoP-bound tokens are not accepted here; use a Bearer token."
        )
    if scheme.lower() != "bearer" or not token:
        raise XRoadError("Client.Unauthorized", "Use the Bearer authorization scheme.")
    if len(token) > MAX_TOKEN_LENGTH:
        raise XRoadError("Client.Unauthorized", "The access token is too long.")
    return token


def authenticate_consumer(*, session: Session, request: Request) -> SubsystemInfo:
    """The enabled consumer subsystem the request's token and X-Road-Client header agree on."""
    claimed = client_header(request)
    token = bearer_token(request)
    info = identity.verify_access_token(session=session, token=token)
    if info is None:
        raise XRoadError("Client.Unauthorized", "The access token is invalid, expired or revoked.")
    if info.jkt is not None:
        raise XRoadError(
            "Client.Unauthorized", "DPoP-bound tokens are not accepted here; use a Bearer token."
        )
    if info.subject is not None:
        raise XRoadError(
            "Client.Unauthorized",
            "This token speaks for a resident; use a client_credentials token of the subsystem.",
        )
    subsystem = subsystem_for_client_id(session=session, client_id=info.client_id)
    if subsystem is None or subsystem.agency_id != info.agency_id:
        raise XRoadError(
            "Client.Unauthorized", "The token's client is not a registered exchange subsystem."
        )
    if not subsystem.enabled:
        raise XRoadError("Client.Unauthorized", "The subsystem is disabled on the exchange.")
    actual = ClientId(
        subsystem.instance, subsystem.member_class, subsystem.member_code, subsystem.subsystem_code
    )
    if claimed != actual:
        raise XRoadError(
            "Client.Unauthorized",
            "X-Road-Client does not name the subsystem the access token belongs to.",
        )
    return subsystem


@access_rule("exchange-client")
def exchange_client(request: Request, session: DbSession) -> SubsystemInfo:
    """A consumer subsystem authenticated by its access token and X-Road-Client header."""
    return authenticate_consumer(session=session, request=request)
