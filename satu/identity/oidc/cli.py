"""`satu identity clients ...`: register relying parties, rotate secrets and signing keys."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import ValidationError

from satu.core.config import get_settings
from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.identity import service as identity
from satu.identity.oidc import keys
from satu.identity.oidc.clients import (
    ClientSpecError,
    create_client,
    get_client,
    list_clients,
    rotate_secret,
    update_client,
)
from satu.identity.oidc.schemas import ClientSpec

app = typer.Typer(
    help="OpenID Connect clients (relying parties) and the provider's signing keys.",
    no_args_is_help=True,
)


def _factory():  # type: ignore[no-untyped-def]
    return make_sessionmaker(make_engine(get_settings()))


def _fail(message: str) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=1)


def _read_jwks(path: Path | None) -> dict | None:  # type: ignore[type-arg]
    if path is None:
        return None
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        _fail(f"cannot read {path}: {error}")
    if isinstance(document, dict) and "keys" not in document:
        document = {"keys": [document]}
    return document  # type: ignore[no-any-return]


@app.command("create")
def create(
    name: str = typer.Option(..., help="Name residents see on the consent screen."),
    agency: str = typer.Option(..., help="Agency id from the agency registry."),
    client_id: str | None = typer.Option(None, help="Client id (default: random)."),
    redirect_uri: list[str] = typer.Option([], help="Exact redirect URI (repeatable)."),
    post_logout_redirect_uri: list[str] = typer.Option([], help="Post-logout URI (repeatable)."),
    grant: list[str] = typer.Option(
        [], help="authorization_code, refresh_token, client_credentials (repeatable)."
    ),
    scope: list[str] = typer.Option([], help="Allowed scope (repeatable)."),
    acr: list[str] = typer.Option([], help="Accepted acr value (repeatable)."),
    auth_method: str = typer.Option(
        "private_key_jwt", help="private_key_jwt or client_secret_basic."
    ),
    jwks: Path | None = typer.Option(None, help="File with the client's public JWK or JWK Set."),
    jwks_uri: str | None = typer.Option(None, help="URL of the client's JWK Set."),
    require_par: bool = typer.Option(False, help="Refuse authorization requests without PAR."),
    require_dpop: bool = typer.Option(False, help="Refuse token requests without DPoP."),
) -> None:
    """Register a relying party; prints its id (and its secret, once, for client_secret_basic)."""
    values: dict = {  # type: ignore[type-arg]
        "client_id": client_id,
        "name": name,
        "agency_id": agency,
        "redirect_uris": redirect_uri,
        "post_logout_redirect_uris": post_logout_redirect_uri,
        "auth_method": auth_method,
        "jwks": _read_jwks(jwks),
        "jwks_uri": jwks_uri,
        "require_par": require_par,
        "require_dpop": require_dpop,
    }
    if grant:
        values["grant_types"] = grant
    if scope:
        values["scopes"] = scope
    if acr:
        values["acr_values"] = acr
    try:
        spec = ClientSpec(**values)
    except ValidationError as error:
        _fail(str(error))
    settings = get_settings()
    try:
        with transaction(_factory()) as session:
            created = create_client(session=session, settings=settings, spec=spec)
            identity.record_audit(
                session=session,
                actor="cli",
                action="oidc.client.created",
                target=f"client:{created.client.client_id}",
            )
    except ClientSpecError as error:
        _fail(f"{error.code}: {error.message}")
    typer.echo(f"client_id: {created.client.client_id}")
    if created.client_secret:
        typer.echo(f"client_secret: {created.client_secret}  (shown once; store it safely)")


@app.command("list")
def list_(agency: str | None = typer.Option(None, help="Only this agency's clients.")) -> None:
    """List registered clients."""
    with transaction(_factory()) as session:
        clients = list_clients(session=session, agency_id=agency)
    for client in clients:
        typer.echo(
            f"{client.client_id}\t{client.status}\t{client.agency_id}\t{client.auth_method}\t"
            f"{client.name}"
        )


@app.command("show")
def show(client_id: str) -> None:
    """Show one client's registration as JSON."""
    with transaction(_factory()) as session:
        client = get_client(session=session, client_id=client_id)
    if client is None:
        _fail(f"no client {client_id!r}")
    typer.echo(client.model_dump_json(indent=2))  # type: ignore[union-attr]


@app.command("disable")
def disable(client_id: str) -> None:
    """Deactivate a client: it can no longer sign anyone in or get tokens."""
    try:
        with transaction(_factory()) as session:
            current = get_client(session=session, client_id=client_id)
            if current is None:
                raise ClientSpecError("invalid_client_id", f"no client {client_id!r}")
            spec = ClientSpec(
                **{
                    k: v
                    for k, v in current.model_dump().items()
                    if k in ClientSpec.model_fields and k != "status"
                },
                status="inactive",
            )
            update_client(session=session, client_id=client_id, spec=spec)
            identity.record_audit(
                session=session,
                actor="cli",
                action="oidc.client.disabled",
                target=f"client:{client_id}",
            )
    except ClientSpecError as error:
        _fail(f"{error.code}: {error.message}")
    typer.echo(f"{client_id} disabled")


@app.command("rotate-secret")
def rotate_secret_command(client_id: str) -> None:
    """Issue a new client secret (client_secret_basic); the old one stops working."""
    settings = get_settings()
    try:
        with transaction(_factory()) as session:
            secret = rotate_secret(session=session, settings=settings, client_id=client_id)
            identity.record_audit(
                session=session,
                actor="cli",
                action="oidc.client.secret_rotated",
                target=f"client:{client_id}",
            )
    except ClientSpecError as error:
        _fail(f"{error.code}: {error.message}")
    typer.echo(f"client_secret: {secret}  (shown once; store it safely)")


@app.command("rotate-keys")
def rotate_keys_command() -> None:
    """Start signing with a new ES256 key; the old one stays in the JWKS until its tokens expire."""
    settings = get_settings()
    with transaction(_factory()) as session:
        kid = keys.rotate_keys(session=session, settings=settings)
        identity.record_audit(
            session=session, actor="cli", action="oidc.keys.rotated", target=f"kid:{kid}"
        )
    typer.echo(f"active signing key: {kid}")


@app.command("keys")
def list_keys() -> None:
    """List signing keys and until when retired ones stay published."""
    with transaction(_factory()) as session:
        rows = keys.list_keys(session=session)
    for row in rows:
        state = (
            "active"
            if row["retired_at"] is None
            else f"retired, published until {row['publish_until']:%Y-%m-%d %H:%M:%S}Z"
        )
        typer.echo(f"{row['kid']}\t{row['created_at']:%Y-%m-%d %H:%M:%S}Z\t{state}")
