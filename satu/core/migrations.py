"""Alembic plumbing shared by the CLI, the readiness probe and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from satu.core.db import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Autogenerate filter: leave alone the indexes a table declares as database-only.

    A model lists them in `__table_args__` as `{"info": {"database_only_indexes": (...)}}`;
    they are made by hand in a migration (e.g. PostgreSQL trigram indexes) and are not in
    the metadata, so without this autogenerate would propose dropping them.
    """
    if type_ == "index" and reflected and compare_to is None:
        table = Base.metadata.tables.get(getattr(getattr(obj, "table", None), "name", ""))
        if table is not None and name in table.info.get("database_only_indexes", ()):
            return False
    return True


def alembic_config(url: str) -> Config:
    """An Alembic config for `url` without any ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` on `engine`'s database."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Revert migrations down to `revision`."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def script_heads() -> tuple[str, ...]:
    """The head revisions of the migration scripts."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return tuple(script.get_heads())


def current_heads(connection: Connection) -> tuple[str, ...]:
    """The revisions the database is at."""
    return tuple(MigrationContext.configure(connection).get_current_heads())
