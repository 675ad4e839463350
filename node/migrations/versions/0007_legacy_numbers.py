"""Find an imported case by its legacy number alone, whatever system it came from

Revision ID: 0007_legacy_numbers
Revises: 0005_imports
Create Date: 2026-12-01

A branch of its own from 0005_imports: the node upgrades to every head.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_legacy_numbers"
down_revision: str | None = "0005_imports"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_imported_requests_legacy_id"), "imported_requests", ["legacy_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_imported_requests_legacy_id"), table_name="imported_requests")
