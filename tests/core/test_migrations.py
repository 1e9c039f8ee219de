"""Migrations on the suite's database kind: empty -> head -> base -> head, on a scratch database.

Single-head and naming checks live in `tests/test_architecture.py`.
"""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from satu.app import import_models
from satu.core.db import Base
from satu.core.migrations import MIGRATIONS_DIR, current_heads, downgrade, script_heads, upgrade

RAW_INDEX = re.compile(r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF NOT EXISTS\s+)?(\w+)", re.I)


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _model_tables() -> set[str]:
    import_models()
    return set(Base.metadata.tables)


def test_upgrade_downgrade_upgrade(scratch_engine: Engine) -> None:
    assert _tables(scratch_engine) == set()

    upgrade(scratch_engine)
    assert _model_tables() <= _tables(scratch_engine)
    with scratch_engine.connect() as connection:
        assert set(current_heads(connection)) == set(script_heads())

    downgrade(scratch_engine, "base")
    assert _tables(scratch_engine) <= {"alembic_version"}
    with scratch_engine.connect() as connection:
        assert current_heads(connection) == ()

    upgrade(scratch_engine)
    assert _model_tables() <= _tables(scratch_engine)
    with scratch_engine.connect() as connection:
        assert set(current_heads(connection)) == set(script_heads())


def test_upgrade_is_idempotent(scratch_engine: Engine) -> None:
    upgrade(scratch_engine)
    before = _tables(scratch_engine)
    upgrade(scratch_engine)
    assert _tables(scratch_engine) == before


def _raw_sql_indexes() -> set[str]:
    """Indexes that migrations create with raw SQL on purpose (e.g. PostgreSQL operator classes)."""
    found: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found.update(RAW_INDEX.findall(script.read_text(encoding="utf-8")))
    return found


def _ignorable(diff: tuple, dialect: str) -> bool:
    if diff[0] == "remove_index" and diff[1].name in _raw_sql_indexes():
        return True
    # SQLite cannot tell a timezone-aware DateTime from a naive one after reflection.
    return (
        dialect == "sqlite"
        and diff[0] == "modify_type"
        and "DateTime" in repr(diff[-1]) + repr(diff[-2])
    )


def test_models_and_migrations_agree(scratch_engine: Engine) -> None:
    upgrade(scratch_engine)
    import_models()
    with scratch_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    flat = []
    for diff in diffs:
        flat.extend(diff if isinstance(diff, list) else [diff])
    remaining = [d for d in flat if not _ignorable(d, scratch_engine.dialect.name)]
    assert remaining == [], "models differ from migrations; run `alembic revision --autogenerate`"
