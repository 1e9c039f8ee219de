"""`satu data ...`: load and inspect reference data."""

from __future__ import annotations

import typer

app = typer.Typer(help="Reference data (regions, agencies).", no_args_is_help=True)
