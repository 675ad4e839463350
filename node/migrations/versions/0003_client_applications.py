"""Client applications of the Open311 API

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Each registered client application holds one API key; only its SHA-256 is stored, so a copy of
the database does not hand out working keys.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.database

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "client_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("app", "web", name="clientkind", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_applications")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_client_applications_key_hash")),
    )


def downgrade() -> None:
    op.drop_table("client_applications")
