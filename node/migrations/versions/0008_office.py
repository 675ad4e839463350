"""Retry times of deliveries, alerts to staff on duty, case photos and usage clusters

Revision ID: 0008_office
Revises: 0005_messaging, 0006_bookings
Create Date: 2026-12-02

Merges the messaging and bookings branches, whose delivery rows both gain the time their next
attempt is due: without a broker the node's own sweep sends it then.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.database

revision: str = "0008_office"
down_revision: tuple[str, ...] = ("0005_messaging", "0006_bookings")
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

STATUS = sa.Enum(
    "pending", "sent", "failed", "skipped", name="deliverystatus", native_enum=False, length=10
)


def upgrade() -> None:
    for table in ("notifications", "booking_reminders"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("next_attempt_at", node.database.UTCDateTime(), nullable=True)
            )
    op.create_table(
        "staff_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", node.database.UTCDateTime(), nullable=True),
        sa.Column("created_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("sent_at", node.database.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_staff_alerts_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_staff_alerts_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_alerts")),
        sa.UniqueConstraint("case_id", "staff_id", name=op.f("uq_staff_alerts_case_id")),
    )
    op.create_index(op.f("ix_staff_alerts_case_id"), "staff_alerts", ["case_id"])
    op.create_index(op.f("ix_staff_alerts_status"), "staff_alerts", ["status"])
    op.create_table(
        "case_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("location_shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", node.database.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_photos_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_photos")),
    )
    op.create_index(op.f("ix_case_photos_case_id"), "case_photos", ["case_id"])
    op.create_table(
        "usage_clusters",
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("share", sa.Double(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("fitted_at", node.database.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("value", name=op.f("pk_usage_clusters")),
    )


def downgrade() -> None:
    op.drop_table("usage_clusters")
    op.drop_index(op.f("ix_case_photos_case_id"), table_name="case_photos")
    op.drop_table("case_photos")
    op.drop_index(op.f("ix_staff_alerts_status"), table_name="staff_alerts")
    op.drop_index(op.f("ix_staff_alerts_case_id"), table_name="staff_alerts")
    op.drop_table("staff_alerts")
    for table in ("booking_reminders", "notifications"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("next_attempt_at")
