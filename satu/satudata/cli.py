"""`satu data ...`: load and inspect reference data."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from satu.core.config import get_settings
from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.core.migrations import upgrade
from satu.satudata import service

app = typer.Typer(help="Reference data (regions, agencies).", no_args_is_help=True)


@app.command("load-regions")
def load_regions_command(
    directory: Path | None = typer.Option(
        None,
        "--directory",
        "-d",
        help="Folder with wilayah.csv, population.csv and retired_district_codes.csv "
        "(default: SATU_DATA_DIR/wilayah).",
    ),
    migrate: bool = typer.Option(True, help="Apply database migrations first."),
) -> None:
    """Load official regions, population and retired district codes (idempotent)."""
    settings = get_settings()
    folder = directory or settings.wilayah_dir
    console = Console(stderr=True)
    engine = make_engine(settings)
    started = time.perf_counter()
    try:
        if migrate:
            upgrade(engine)
        progress = Progress(
            TextColumn("[bold]Loading regions"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        with progress, transaction(make_sessionmaker(engine)) as session:
            task = progress.add_task("regions", total=service.count_rows(folder) or None)
            report = service.load_regions(
                session=session,
                directory=folder,
                progress=lambda advance: progress.advance(task, advance),
            )
    except service.ReferenceDataError as exc:
        console.print(f"error: {exc}", style="red", highlight=False, markup=False)
        console.print("Nothing was changed.")
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    elapsed = time.perf_counter() - started
    regions, retired = report.regions, report.retired_districts
    typer.echo(
        f"Regions: {regions.inserted} inserted, {regions.updated} updated, "
        f"{regions.unchanged} unchanged, {report.deleted} deleted, {report.kept} kept "
        "(no longer listed but still referenced)."
    )
    typer.echo(
        f"Retired district codes: {retired.inserted} inserted, {retired.updated} updated, "
        f"{retired.unchanged} unchanged."
    )
    typer.echo(f"Done in {elapsed:.1f} s.")


@app.command("load-agencies")
def load_agencies_command(
    migrate: bool = typer.Option(True, help="Apply database migrations first."),
) -> None:
    """Load national agencies and derive local governments from the loaded regions."""
    settings = get_settings()
    console = Console(stderr=True)
    engine = make_engine(settings)
    try:
        if migrate:
            upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            report = service.load_agencies(
                session=session, progress=lambda message: console.print(message, markup=False)
            )
    except service.AgencyCatalogueError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
        console.print("Nothing was changed.")
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(report.by_kind.items()))
    typer.echo(
        f"Agencies: {report.inserted} inserted, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.unlisted} not in the registry sources."
    )
    typer.echo(f"By kind: {kinds}.")
    typer.echo(f"Done in {report.seconds:.2f} s.")
