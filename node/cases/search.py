"""Full-text search over cases: SQLite FTS5 or PostgreSQL full text, behind one condition.

Both search the tracking code, the legacy numbers of an imported case, the description and the
address, for every word typed (each word also as the start of a longer one: `lamp` finds
`lampione`). On SQLite an FTS5 table (`cases_fts`, rowid = case id) is kept in step with the
cases and their legacy numbers by triggers, so bulk imports that bypass the ORM are indexed too;
on PostgreSQL a GIN index on the same text needs no keeping at all. Migration 0008_case_search
creates both.
"""

import re

import sqlalchemy as sa

from node.cases.models import Case, ImportedRequest

FTS_TABLE = "cases_fts"  # SQLite only, with the shadow tables FTS5 names after it
MAX_TERMS = 12  # a pasted paragraph is not a search; its first words are enough
# The text PostgreSQL indexes: punctuation is a word break, as in FTS5, so that BO-7K3M9Q is the
# words bo and 7k3m9q on both databases. The index in the migration is on this very expression.
PG_CONFIG = "simple"  # no stemming: descriptions come in every language of the city


def _sql(literal: str) -> sa.ColumnElement:
    # Constants written into the SQL, not bound: only then does the planner see the expression
    # of the index (and every function in it must be immutable, hence || rather than concat_ws).
    return sa.literal_column(literal)


def pg_document(*columns: sa.ColumnElement[str]) -> sa.ColumnElement:
    """The tsvector PostgreSQL indexes for these text columns."""
    text: sa.ColumnElement = sa.func.coalesce(columns[0], _sql("''"))
    for column in columns[1:]:
        text = text.op("||")(_sql("' '")).op("||")(sa.func.coalesce(column, _sql("''")))
    cleaned = sa.func.regexp_replace(text, _sql(r"'[\W_]+'"), _sql("' '"), _sql("'g'"))
    return sa.func.to_tsvector(_sql(f"'{PG_CONFIG}'::regconfig"), cleaned)


def case_document() -> sa.ColumnElement:
    """The tsvector of a case (tracking code, description, address) on PostgreSQL."""
    return pg_document(Case.tracking_code, Case.description, Case.address)


def legacy_document() -> sa.ColumnElement:
    """The tsvector of a legacy number on PostgreSQL."""
    return pg_document(ImportedRequest.legacy_id)


def terms(text: str) -> list[str]:
    """The words of a search, lower case; punctuation only separates them."""
    return re.findall(r"[^\W_]+", text.lower())[:MAX_TERMS]


def matching(text: str, *, dialect: str) -> sa.ColumnElement[bool]:
    """The condition on cases to hold every word of the search, or to bear it whole as their
    tracking code or legacy number (where punctuation splits it into words); true without words.

    Each database answers from its indexes rather than testing every case: on SQLite one
    `id IN (... UNION ...)` of lookups (FTS5 is a table of its own); on PostgreSQL one OR of
    conditions on the cases' own indexes, which it reads as a single bitmap of matching rows.
    """
    words = terms(text)
    if not words:
        return sa.true()
    whole = text.strip()
    if dialect == "postgresql":
        query = sa.func.to_tsquery(
            _sql(f"'{PG_CONFIG}'::regconfig"), " & ".join(f"{w}:*" for w in words)
        )
        legacy = sa.select(ImportedRequest.case_id).where(
            sa.or_(ImportedRequest.legacy_id == whole, legacy_document().op("@@")(query))
        )
        # `id = ANY(ARRAY(...))` rather than `id IN (...)`: the legacy numbers are looked up
        # once, and the primary key's index joins the bitmap; an IN inside an OR would make
        # PostgreSQL read every case (a UNION of ids, measured, twice as slow at 100,000).
        return sa.or_(
            Case.tracking_code == whole.upper(),
            case_document().op("@@")(query),
            Case.id == sa.any_(sa.func.array(legacy.scalar_subquery())),
        )
    # Each word quoted (FTS5 syntax can never leak in) and taken as a prefix.
    expression = " ".join(f'"{w}"*' for w in words)
    fts = sa.table(FTS_TABLE, sa.column("rowid", sa.Integer))
    return Case.id.in_(
        sa.union(
            sa.select(Case.id).where(Case.tracking_code == whole.upper()),
            sa.select(ImportedRequest.case_id).where(ImportedRequest.legacy_id == whole),
            sa.select(fts.c.rowid).where(
                sa.text(f"{FTS_TABLE} MATCH :terms").bindparams(terms=expression)
            ),
        )
    )


def is_search_table(name: str) -> bool:
    """Whether a table is the search index or one of its shadow tables (not a model's)."""
    return name == FTS_TABLE or name.startswith(f"{FTS_TABLE}_")
