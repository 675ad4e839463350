"""Checks and revocation: a node's pilot start, tokens bound to a node name, suspended pushes
counted, and what an evaluation run left out.

Tokens issued before this revision have no node name and bind their city alone.

Revision ID: 0002_trust
Revises: 0001
Create Date: 2026-12-03 17:56:05.431338
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_trust"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node_slug", sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column("pilot_start", sa.String(length=7), nullable=True))

    with op.batch_alter_table("evaluation_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warnings", sa.JSON(), nullable=True))

    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pilot_start", sa.String(length=7), nullable=True))
        batch_op.add_column(
            sa.Column("suspended_pushes", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_column("suspended_pushes")
        batch_op.drop_column("pilot_start")

    with op.batch_alter_table("evaluation_runs", schema=None) as batch_op:
        batch_op.drop_column("warnings")

    with op.batch_alter_table("enrollment_tokens", schema=None) as batch_op:
        batch_op.drop_column("pilot_start")
        batch_op.drop_column("node_slug")
