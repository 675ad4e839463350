"""Client applications get a scope: what their key reads through Open311 GET

Revision ID: 0007_client_scope
Revises: 0003
Create Date: 2026-12-07

Every existing key reads what anyone reads (`public`); an operator widens a city app's key with
`carmen node api-key scope`. A branch of its own from 0003, where the table was made.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_client_scope"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("client_applications") as batch:
        batch.add_column(
            sa.Column(
                "scope",
                sa.Enum("public", "full", name="clientscope", native_enum=False, length=16),
                nullable=False,
                server_default="public",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("client_applications") as batch:
        batch.drop_column("scope")
