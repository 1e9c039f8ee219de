"""`satu exchange ...`: members, services, access rights, keys, the transparency log, events.

Each part of the exchange defines its commands on its own `typer.Typer()` called `commands`
in its own module (e.g. `log_cli.py`); they are merged here so that `satu exchange --help`
lists them all.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    help="Data exchange: members, services, access rights, the transparency log, events.",
    no_args_is_help=True,
)

# Modules with a `commands` Typer whose commands and groups join `app` (one per line).
COMMAND_MODULES: tuple[str, ...] = (
    "satu.exchange.registry_cli",
    "satu.exchange.providers_cli",
    "satu.exchange.pubsub_cli",
    "satu.exchange.log_cli",
)

for _name in COMMAND_MODULES:
    _part = importlib.import_module(_name).commands
    app.registered_commands.extend(_part.registered_commands)
    app.registered_groups.extend(_part.registered_groups)
