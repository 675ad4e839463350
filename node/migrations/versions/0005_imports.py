"""Remember which legacy requests were imported, so an import never brings one in twice

Revision ID: 0005_imports
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.database

revision: str = "0005_imports"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imported_requests",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("legacy_id", sa.String(length=128), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("imported_at", node.database.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_imported_requests_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("source", "legacy_id", name=op.f("pk_imported_requests")),
        sa.UniqueConstraint("case_id", name=op.f("uq_imported_requests_case_id")),
    )


def downgrade() -> None:
    op.drop_table("imported_requests")
