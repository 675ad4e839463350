"""SMS dialogues, archived raw e-mail, Message-IDs of notifications, quarantine outcomes

Revision ID: 0007_channels
Revises: 0005_messaging
Create Date: 2027-01-15

A branch of its own from the messaging tables it extends: the node upgrades to every head.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.database

revision: str = "0007_channels"
down_revision: str | None = "0005_messaging"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_dialogues",
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("asking", sa.String(length=64), nullable=False),
        sa.Column("to_ask", sa.JSON(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("asked_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("expires_at", node.database.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_sms_dialogues_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_sms_dialogues_citizen_id_citizens")
        ),
        sa.ForeignKeyConstraint(
            ["service_code"],
            ["services.code"],
            name=op.f("fk_sms_dialogues_service_code_services"),
        ),
        sa.PrimaryKeyConstraint("citizen_id", name=op.f("pk_sms_dialogues")),
    )
    op.create_table(
        "archived_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", node.database.UTCDateTime(), nullable=False),
        sa.Column("pruned_at", node.database.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_archived_mails_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_archived_mails_citizen_id_citizens")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archived_mails")),
    )
    op.create_index(op.f("ix_archived_mails_case_id"), "archived_mails", ["case_id"])
    op.create_index(op.f("ix_archived_mails_citizen_id"), "archived_mails", ["citizen_id"])
    op.create_index(op.f("ix_archived_mails_received_at"), "archived_mails", ["received_at"])
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("message_id", sa.String(length=300), nullable=True))
        batch.create_index(batch.f("ix_notifications_message_id"), ["message_id"])
    with op.batch_alter_table("quarantined_messages") as batch:
        batch.add_column(
            sa.Column("envelope_recipients", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("automatic", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("resolution", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("case_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_quarantined_messages_case_id_cases"), "cases", ["case_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("quarantined_messages") as batch:
        batch.drop_constraint(batch.f("fk_quarantined_messages_case_id_cases"), type_="foreignkey")
        batch.drop_column("case_id")
        batch.drop_column("resolution")
        batch.drop_column("automatic")
        batch.drop_column("envelope_recipients")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index(batch.f("ix_notifications_message_id"))
        batch.drop_column("message_id")
    op.drop_index(op.f("ix_archived_mails_received_at"), table_name="archived_mails")
    op.drop_index(op.f("ix_archived_mails_citizen_id"), table_name="archived_mails")
    op.drop_index(op.f("ix_archived_mails_case_id"), table_name="archived_mails")
    op.drop_table("archived_mails")
    op.drop_table("sms_dialogues")
