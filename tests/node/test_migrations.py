"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from node.cases.search import is_search_table
from node.database import make_engine
from node.migrate import upgrade
from node.models import Base


def test_migrated_schema_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'node.db'}"
    upgrade(url)
    with make_engine(url).connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                # The full-text index is no model: FTS5 keeps it in tables of its own.
                "include_name": lambda name, kind, _parent: (
                    kind != "table" or not is_search_table(name)
                ),
            },
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "models changed without a migration: add one in node/migrations"
