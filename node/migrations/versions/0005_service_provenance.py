"""Keep each installed service's provenance on its catalogue row

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

A service generated from a template carries a provenance.json (template, template version,
answers, the city it was cloned from); the catalogue keeps it so the back office and the API can
show which services are the same service in different cities. Hand-written services have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("provenance", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("provenance")
