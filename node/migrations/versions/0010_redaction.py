"""Erasure may redact an event's payload; counts keep what erasure took from them

Revision ID: 0010_redaction
Revises: 0009_accounts
Create Date: 2026-12-04

The archive stays append-only with one exception, the right to erasure: an event's `data` may
be rewritten when the new payload carries the `redacted` mark (the id of the redaction event
that lists it), and nothing else of the row changes. Deleting an event is still refused.
count_adjustments keeps, per period and cell, what unlinking erased people took from the
counts, so that a month's snapshot is the same before and after an erasure.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_redaction"
down_revision: str | None = "0009_accounts"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

MESSAGE = "events are append-only: the archive cannot be changed"
# Every column but data: a redaction may change nothing of them.
KEPT = (
    "id",
    "at",
    "kind",
    "case_id",
    "citizen_id",
    "service_code",
    "channel",
    "actor_kind",
    "actor_staff_id",
)


def _create_adjustments() -> None:
    op.create_table(
        "count_adjustments",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("measure", sa.String(length=64), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "period", "service_code", "dim", "value", "measure", name=op.f("pk_count_adjustments")
        ),
    )


def upgrade() -> None:
    _create_adjustments()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION carmen_refuse_event_change() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'UPDATE'
                    AND (to_jsonb(NEW) - 'data') = (to_jsonb(OLD) - 'data')
                    AND (NEW.data::jsonb) ? 'redacted' THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION '{MESSAGE}';
            END;
            $$ LANGUAGE plpgsql
            """
        )
    else:
        same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in KEPT)
        op.execute("DROP TRIGGER events_no_update")
        op.execute(
            "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
            f"WHEN NOT ({same} AND json_extract(NEW.data, '$.redacted') IS NOT NULL) "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION carmen_refuse_event_change() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{MESSAGE}'; END;
            $$ LANGUAGE plpgsql
            """
        )
    else:
        op.execute("DROP TRIGGER events_no_update")
        op.execute(
            "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
    op.drop_table("count_adjustments")
