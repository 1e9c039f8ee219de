"""Migration plumbing of `satu.core.migrations` on a scratch database of the suite's kind.

Single head, step-by-step upgrade/downgrade and model drift are checked in
`tests/test_architecture.py`; this file covers what the CLI and the readiness probe rely on.
"""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from satu.app import import_models
from satu.core.db import Base
from satu.core.migrations import current_heads, downgrade, script_heads, upgrade


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_fresh_database_has_no_revision(scratch_engine: Engine) -> None:
    with scratch_engine.connect() as connection:
        assert current_heads(connection) == ()


def test_upgrade_to_head_then_base_then_head(scratch_engine: Engine) -> None:
    import_models()
    upgrade(scratch_engine)
    assert set(Base.metadata.tables) <= _tables(scratch_engine)
    with scratch_engine.connect() as connection:
        assert current_heads(connection) == script_heads()
    downgrade(scratch_engine, "base")
    assert _tables(scratch_engine) <= {"alembic_version"}
    upgrade(scratch_engine)
    with scratch_engine.connect() as connection:
        assert current_heads(connection) == script_heads()


def test_upgrade_is_idempotent(scratch_engine: Engine) -> None:
    upgrade(scratch_engine)
    before = _tables(scratch_engine)
    upgrade(scratch_engine)
    assert _tables(scratch_engine) == before
    with scratch_engine.connect() as connection:
        assert current_heads(connection) == script_heads()
