"""`satu exchange providers ...`: run the demo provider backends standalone, show their keys
and OpenAPI documents (what an agency registers with the exchange)."""

from __future__ import annotations

import json
import time

import typer

from satu.core.config import get_settings
from satu.providers import service as providers

commands = typer.Typer()
group = typer.Typer(
    help="Demo provider backends (population register, DTKS).", no_args_is_help=True
)
commands.add_typer(group, name="providers")


def _names(only: str | None) -> tuple[str, ...]:
    if only is None:
        return providers.NAMES
    if only not in providers.NAMES:
        typer.echo(
            f"Unknown provider {only!r}; choose from {', '.join(providers.NAMES)}.", err=True
        )
        raise typer.Exit(2)
    return (only,)


@group.command("serve")
def serve(
    only: str | None = typer.Option(None, help="Serve only this one: population or dtks."),
) -> None:
    """Serve the providers on their ports (SATU_PROVIDERS_*) until Ctrl+C."""
    try:
        servers = providers.start_providers(names=_names(only))
    except (RuntimeError, OSError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from exc
    prov = providers.get_provider_settings()
    for server in servers:
        typer.echo(f"{server.name}: {server.url} (trusts the keys at {prov.jwks(get_settings())})")
    try:
        while all(s.thread.is_alive() for s in servers):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()


@group.command("keys")
def show_keys() -> None:
    """Each provider's public key (JWK) and key id, to register with the exchange."""
    for name in providers.NAMES:
        key = providers.provider_key(name)
        typer.echo(json.dumps({"provider": name, "key_id": key.key_id, "jwk": key.public_jwk()}))


@group.command("openapi")
def openapi(name: str = typer.Argument(..., help="population or dtks")) -> None:
    """Print a provider's OpenAPI 3 document (JSON)."""
    _names(name)
    typer.echo(json.dumps(providers.openapi_document(name), indent=2, ensure_ascii=False))
