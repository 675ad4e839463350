"""Booking slots, bookings and their reminders

Revision ID: 0006_bookings
Revises: 0004
Create Date: 2026-11-30

A branch of its own from 0004: the node upgrades to every head.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.database

revision: str = "0006_bookings"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "booking_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("office", sa.String(length=64), nullable=False),
        sa.Column("starts_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("ends_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("desk", sa.Integer(), nullable=False),
        sa.Column("created_at", node.database.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_code"],
            ["services.code"],
            name=op.f("fk_booking_slots_service_code_services"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_slots")),
        sa.UniqueConstraint(
            "service_code",
            "office",
            "starts_at",
            "desk",
            name=op.f("uq_booking_slots_service_code"),
        ),
    )
    op.create_index(
        op.f("ix_booking_slots_service_code"), "booking_slots", ["service_code"], unique=False
    )
    op.create_index(
        op.f("ix_booking_slots_starts_at"), "booking_slots", ["starts_at"], unique=False
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=True),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("office", sa.String(length=64), nullable=False),
        sa.Column("starts_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "booked",
                "cancelled",
                "attended",
                "no_show",
                name="bookingstatus",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("created_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("updated_at", node.database.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_bookings_citizen_id_citizens")
        ),
        sa.ForeignKeyConstraint(
            ["service_code"], ["services.code"], name=op.f("fk_bookings_service_code_services")
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["booking_slots.id"], name=op.f("fk_bookings_slot_id_booking_slots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("reference", name=op.f("uq_bookings_reference")),
        sa.UniqueConstraint("slot_id", name=op.f("uq_bookings_slot_id")),
    )
    op.create_index(op.f("ix_bookings_citizen_id"), "bookings", ["citizen_id"], unique=False)
    op.create_index(op.f("ix_bookings_service_code"), "bookings", ["service_code"], unique=False)
    op.create_index(op.f("ix_bookings_starts_at"), "bookings", ["starts_at"], unique=False)
    op.create_index(op.f("ix_bookings_status"), "bookings", ["status"], unique=False)
    op.create_table(
        "booking_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "failed",
                "skipped",
                name="deliverystatus",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("skip_reason", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("sent_at", node.database.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_booking_reminders_booking_id_bookings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_reminders")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_booking_reminders_booking_id")),
    )


def downgrade() -> None:
    op.drop_table("booking_reminders")
    op.drop_index(op.f("ix_bookings_status"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_starts_at"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_service_code"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_citizen_id"), table_name="bookings")
    op.drop_table("bookings")
    op.drop_index(op.f("ix_booking_slots_starts_at"), table_name="booking_slots")
    op.drop_index(op.f("ix_booking_slots_service_code"), table_name="booking_slots")
    op.drop_table("booking_slots")
