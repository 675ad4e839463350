"""Consultations: the poll, the register of who took part, the anonymous tally, contact checks

Revision ID: 0006_consultations
Revises: 0004
Create Date: 2026-11-30

A branch of its own from 0004, like the other behaviours: the node upgrades to every head.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.database

revision: str = "0006_consultations"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consultations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=False),
        sa.Column("verification", sa.String(length=16), nullable=False),
        sa.Column("minimum_age", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "closed", name="consultationstatus", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("opened_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("closed_at", node.database.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name=op.f("fk_consultations_service_code_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultations")),
        sa.UniqueConstraint("service_code", name=op.f("uq_consultations_service_code")),
    )
    op.create_table(
        "consultation_participations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_consultation_participations_citizen_id_citizens"),
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_consultation_participations_consultation_id_consultations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_participations")),
        sa.UniqueConstraint(
            "consultation_id",
            "citizen_id",
            name=op.f("uq_consultation_participations_consultation_id"),
        ),
    )
    op.create_index(
        op.f("ix_consultation_participations_citizen_id"),
        "consultation_participations",
        ["citizen_id"],
    )
    op.create_index(
        op.f("ix_consultation_participations_consultation_id"),
        "consultation_participations",
        ["consultation_id"],
    )
    op.create_table(
        "consultation_tallies",
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("option", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_consultation_tallies_consultation_id_consultations"),
        ),
        sa.PrimaryKeyConstraint("consultation_id", "option", name=op.f("pk_consultation_tallies")),
    )
    op.create_table(
        "consultation_contact_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("contact", sa.String(length=320), nullable=False),
        sa.Column("code_hash", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("expires_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("verified_at", node.database.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_consultation_contact_checks_citizen_id_citizens"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_contact_checks")),
    )
    op.create_index(
        op.f("ix_consultation_contact_checks_citizen_id"),
        "consultation_contact_checks",
        ["citizen_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_consultation_contact_checks_citizen_id"), table_name="consultation_contact_checks"
    )
    op.drop_table("consultation_contact_checks")
    op.drop_table("consultation_tallies")
    op.drop_index(
        op.f("ix_consultation_participations_consultation_id"),
        table_name="consultation_participations",
    )
    op.drop_index(
        op.f("ix_consultation_participations_citizen_id"), table_name="consultation_participations"
    )
    op.drop_table("consultation_participations")
    op.drop_table("consultations")
