"""Full-text search over cases, and the index of the queue's default order

Revision ID: 0008_case_search
Revises: 0007_legacy_numbers
Create Date: 2026-12-02

SQLite: an FTS5 table over the tracking code, legacy numbers, description and address, filled
from the cases already there and kept in step by triggers (bulk imports insert with plain SQL,
so the ORM could not do it). PostgreSQL: GIN indexes on the same text, which PostgreSQL keeps in
step itself. The expressions must stay those of node/cases/search.py, or the planner will not
use the indexes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_case_search"
down_revision: str | None = "0007_legacy_numbers"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

PG_CASE_DOCUMENT = (
    "to_tsvector('simple'::regconfig, regexp_replace("
    "coalesce(tracking_code, '') || ' ' || coalesce(description, '') || ' ' "
    "|| coalesce(address, ''), '[\\W_]+', ' ', 'g'))"
)
PG_LEGACY_DOCUMENT = (
    "to_tsvector('simple'::regconfig, regexp_replace(coalesce(legacy_id, ''), '[\\W_]+', ' ', 'g'))"
)
SQLITE = [
    "CREATE VIRTUAL TABLE cases_fts USING fts5("
    "code, legacy, description, address, tokenize = 'unicode61 remove_diacritics 2')",
    "INSERT INTO cases_fts (rowid, code, legacy, description, address) "
    "SELECT c.id, c.tracking_code, coalesce((SELECT group_concat(i.legacy_id, ' ') "
    "FROM imported_requests i WHERE i.case_id = c.id), ''), c.description, "
    "coalesce(c.address, '') FROM cases c",
    "CREATE TRIGGER cases_fts_insert AFTER INSERT ON cases BEGIN "
    "INSERT INTO cases_fts (rowid, code, legacy, description, address) "
    "VALUES (new.id, new.tracking_code, '', new.description, coalesce(new.address, '')); END",
    "CREATE TRIGGER cases_fts_update AFTER UPDATE OF tracking_code, description, address "
    "ON cases BEGIN UPDATE cases_fts SET code = new.tracking_code, "
    "description = new.description, address = coalesce(new.address, '') "
    "WHERE rowid = new.id; END",
    "CREATE TRIGGER cases_fts_delete AFTER DELETE ON cases BEGIN "
    "DELETE FROM cases_fts WHERE rowid = old.id; END",
    "CREATE TRIGGER cases_fts_legacy AFTER INSERT ON imported_requests BEGIN "
    "UPDATE cases_fts SET legacy = trim(legacy || ' ' || new.legacy_id) "
    "WHERE rowid = new.case_id; END",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_cases_search ON cases USING gin ({PG_CASE_DOCUMENT})")
        op.execute(
            "CREATE INDEX ix_imported_requests_search ON imported_requests "
            f"USING gin ({PG_LEGACY_DOCUMENT})"
        )
    else:
        for statement in SQLITE:
            op.execute(statement)
    # The default queue: open cases by due time (the priority is sorted among them).
    op.create_index("ix_cases_status_due_at", "cases", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_status_due_at", table_name="cases")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_imported_requests_search")
        op.execute("DROP INDEX ix_cases_search")
    else:
        for trigger in ("insert", "update", "delete", "legacy"):
            op.execute(f"DROP TRIGGER cases_fts_{trigger}")
        op.execute("DROP TABLE cases_fts")
