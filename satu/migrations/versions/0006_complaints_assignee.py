"""complaints: a case's assignee (an officer of its current agency)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints_report") as batch:
        batch.add_column(sa.Column("assignee_id", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_complaints_report_assignee_id"), ["assignee_id"])


def downgrade() -> None:
    # No table copy on SQLite (other tables reference complaints_report): SQLite 3.35+ drops
    # an unindexed column in place.
    with op.batch_alter_table("complaints_report", recreate="never") as batch:
        batch.drop_index(batch.f("ix_complaints_report_assignee_id"))
        batch.drop_column("assignee_id")
