"""The `satu` command line: serve, demo, database and data management."""

from __future__ import annotations

import typer
import uvicorn

from satu.complaints.cli import app as complaints_app
from satu.core.config import get_settings
from satu.core.db import make_engine
from satu.core.migrations import upgrade
from satu.demo import demo
from satu.exchange.cli import app as exchange_app
from satu.identity.cli import app as identity_app
from satu.satudata.cli import app as data_app

app = typer.Typer(
    help="Satu: one portal, one identity, one data exchange for Indonesian public services.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")
app.add_typer(identity_app, name="identity")
app.add_typer(complaints_app, name="complaints")
app.add_typer(exchange_app, name="exchange")
app.command("demo")(demo)


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("head", help="Target revision (default: the latest)."),
) -> None:
    """Apply database migrations (SQLite by default, PostgreSQL via SATU_DATABASE_URL)."""
    settings = get_settings()
    engine = make_engine(settings)
    upgrade(engine, revision)
    typer.echo(f"Database at {engine.url.render_as_string(hide_password=True)} is up to date.")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes (stateless; share the DB)."),
    reload: bool = typer.Option(False, help="Reload on code changes (development only)."),
) -> None:
    """Serve the web application and APIs with uvicorn."""
    uvicorn.run(
        "satu.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        server_header=False,  # no need to tell the world which server software answers
        access_log=False,  # Satu logs each request itself (request id, route template)
        log_config=None,
    )


def main() -> None:
    """Entry point of the `satu` console script."""
    app()
