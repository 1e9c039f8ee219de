"""`satu complaints ...`: seed demo reports, train the classifier, run the clock, API keys."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from satu.complaints import classifier, workflow
from satu.complaints.open311 import create_api_key, revoke_api_key
from satu.complaints.seed import seed_reports
from satu.core.config import get_settings
from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.core.errors import Problem

app = typer.Typer(help="Complaints (SP4N-LAPOR): demo data, classifier, clock, API keys.",
                  no_args_is_help=True)  # fmt: skip
keys_app = typer.Typer(help="Open311 / gateway API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="api-key")


def _sessions():  # type: ignore[no-untyped-def]
    return make_sessionmaker(make_engine(get_settings()))


def model_path() -> Path:
    """Where the trained classifier is kept."""
    return classifier.default_path()


@app.command()
def seed(
    n: int = typer.Option(100_000, "--n", min=1, max=5_000_000, help="How many reports."),
    seed_value: int | None = typer.Option(None, "--seed", help="Random seed (repeatable)."),
    train: bool = typer.Option(True, help="Train the classifier on the result."),
) -> None:
    """Generate realistic reports across real regions and agencies, with their history."""
    factory = _sessions()
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("Laporan", total=n)
        with transaction(factory) as session:
            written = seed_reports(
                session=session,
                n=n,
                seed=seed_value,
                progress=lambda done, total: bar.update(task, completed=done),
            )
    elapsed = time.perf_counter() - started
    typer.echo(f"{written} reports in {elapsed:.1f} s ({written / elapsed:,.0f}/s).")
    if train:
        _train()


def _train() -> None:
    with transaction(_sessions()) as session:
        started = time.perf_counter()
        model = classifier.train(session=session, path=model_path())
    typer.echo(
        f"Classifier trained on {model.trained_on} reports in "
        f"{time.perf_counter() - started:.1f} s -> {model_path()}"
    )


@app.command("train")
def train_command() -> None:
    """Train the routing classifier on the verified history."""
    try:
        _train()
    except ValueError as exc:
        typer.echo(f"Not enough history: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def clock() -> None:
    """Escalate overdue cases and auto-close unanswered answers (run it every hour)."""
    with transaction(_sessions()) as session:
        counts = workflow.run_clock(session=session)
    typer.echo(f"escalated {counts['escalated']}, auto-closed {counts['auto_closed']}")


@keys_app.command("create")
def key_create(
    name: str = typer.Argument(..., help="Who uses the key, e.g. 'gateway-sms-telkomsel'."),
    channel: str = typer.Option("open311", help="open311, sms, social or api."),
) -> None:
    """Create an API key; it is printed once and only its hash is stored."""
    try:
        with transaction(_sessions()) as session:
            raw = create_api_key(session=session, name=name, channel=channel)
    except Problem as exc:
        typer.echo(exc.detail or exc.title, err=True)
        raise typer.Exit(1) from exc
    typer.echo(raw)


@keys_app.command("revoke")
def key_revoke(name: str = typer.Argument(..., help="The key's name.")) -> None:
    """Deactivate an API key."""
    with transaction(_sessions()) as session:
        done = revoke_api_key(session=session, name=name)
    typer.echo("revoked" if done else "no active key with that name")
    if not done:
        raise typer.Exit(1)
