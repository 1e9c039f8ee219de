"""exchange: the purpose a pub/sub subscription states

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing subscriptions stated no purpose: '' (they rely on consent alone from now on).
    with op.batch_alter_table("exchange_subscription") as batch:
        batch.add_column(
            sa.Column("purpose", sa.String(length=100), server_default="", nullable=False)
        )


def downgrade() -> None:
    # No table copy on SQLite (exchange_delivery references exchange_subscription): SQLite 3.35+
    # drops an unindexed column in place.
    with op.batch_alter_table("exchange_subscription", recreate="never") as batch:
        batch.drop_column("purpose")
