"""What each month released, and why a change is held back

Revision ID: 0010_sync_releases
Revises: 0009_sync_lease
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.database

revision: str = "0010_sync_releases"
down_revision: str | None = "0009_sync_lease"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_periods") as batch:
        batch.add_column(sa.Column("released", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("held_reason", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("held_since", node.database.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_periods") as batch:
        batch.drop_column("held_since")
        batch.drop_column("held_reason")
        batch.drop_column("released")
