"""`satu identity ...`: seed a synthetic population, create admins, add officers, manage clients."""

from __future__ import annotations

import importlib
import importlib.util
import time

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from satu.core.config import get_settings
from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.core.errors import Problem
from satu.identity import service

app = typer.Typer(
    help="Digital ID: residents, accounts, officers, OIDC clients.", no_args_is_help=True
)
console = Console()


def _oidc_cli_present() -> bool:
    try:
        return importlib.util.find_spec("satu.identity.oidc.cli") is not None
    except ModuleNotFoundError:
        return False


if _oidc_cli_present():
    app.add_typer(importlib.import_module("satu.identity.oidc.cli").app, name="clients")


def _sessionmaker():  # type: ignore[no-untyped-def]
    return make_sessionmaker(make_engine(get_settings()))


@app.command()
def seed(
    residents: int = typer.Option(1000, "--residents", min=1, help="How many residents to add."),
    seed: int | None = typer.Option(None, help="Random seed, for a reproducible population."),
    batch_size: int = typer.Option(20_000, min=100, help="Rows per insert batch."),
) -> None:
    """Add a realistic synthetic population (whole households; NIKs agree with the data)."""
    factory = _sessionmaker()
    with Progress(
        TextColumn("[bold]residents"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("seed", total=residents)
        started = time.perf_counter()
        with transaction(factory) as session:
            result = service.seed_residents(
                session=session,
                count=residents,
                seed=seed,
                batch_size=batch_size,
                progress=lambda n: progress.advance(task, n),
            )
        elapsed = time.perf_counter() - started
    console.print(
        f"Added {result.residents:,} residents in {result.families:,} families "
        f"in {elapsed:.1f} s ({result.residents / elapsed:,.0f} rows/s, commit included)."
    )


def _ensure_account(session, nik: str, password: str | None) -> str:  # type: ignore[no-untyped-def]
    account = service.account_for_nik(session=session, nik=nik)
    if account is not None:
        return account.id
    if password is None:
        raise typer.BadParameter("this resident has no account yet: give --password")
    try:
        return service.create_account(session=session, nik=nik, password=password, actor="cli").id
    except service.AccountError as exc:
        raise typer.BadParameter(exc.message) from exc


@app.command("create-admin")
def create_admin(
    nik: str = typer.Option(..., help="NIK of a registered resident."),
    password: str = typer.Option(
        None,
        help="Password for a new account (prompted when the resident has none).",
    ),
) -> None:
    """Give a resident's account the global admin role (creating the account if needed)."""
    factory = _sessionmaker()
    with transaction(factory) as session:
        if service.find_resident(session=session, nik=nik) is None:
            raise typer.BadParameter("no resident has this NIK (seed or register first)")
        if password is None and service.account_for_nik(session=session, nik=nik) is None:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        account_id = _ensure_account(session, nik, password)
        service.grant_role(session=session, account_id=account_id, role="admin", granted_by="cli")
    console.print(f"Account {account_id} is an administrator.")


@app.command("add-officer")
def add_officer(
    nik: str = typer.Option(..., help="NIK of a registered resident."),
    agency: str = typer.Option(None, help="Agency id (required for agency-scoped roles)."),
    role: str = typer.Option("officer", help="officer, verifier, agency_admin, ministry_observer"),
    password: str = typer.Option(None, help="Password for a new account, if none exists."),
) -> None:
    """Give a resident's account an officer role at an agency."""
    factory = _sessionmaker()
    with transaction(factory) as session:
        if service.find_resident(session=session, nik=nik) is None:
            raise typer.BadParameter("no resident has this NIK")
        account_id = _ensure_account(session, nik, password)
        try:
            grant = service.grant_role(
                session=session,
                account_id=account_id,
                role=role,
                agency_id=agency,
                granted_by="cli",
            )
        except Problem as exc:
            raise typer.BadParameter(exc.detail or exc.title) from exc
    console.print(f"Account {account_id}: {grant.role} at {grant.agency_id or 'all agencies'}.")
