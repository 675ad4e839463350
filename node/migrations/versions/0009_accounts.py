"""Verified contacts and session versions for accounts

Revision ID: 0009_accounts
Revises: 0002
Create Date: 2026-12-04

A sign-up, a new contact and a password reset wait in contact_verifications until the link or
code sent is used. Staff and citizens get a session version that signing out, a new password and
disabling bump. A branch of its own from 0002, where both account tables exist.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.database

revision: str = "0009_accounts"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    for table in ("citizens", "staff_users"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("session_version", sa.Integer(), nullable=False, server_default="1")
            )
    op.create_table(
        "contact_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "signup",
                "contact",
                "reset",
                name="verificationpurpose",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("expires_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("used_at", node.database.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_contact_verifications_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_verifications")),
    )
    for column in ("address", "citizen_id", "secret_hash"):
        op.create_index(
            op.f(f"ix_contact_verifications_{column}"), "contact_verifications", [column]
        )


def downgrade() -> None:
    op.drop_table("contact_verifications")
    for table in ("citizens", "staff_users"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("session_version")
