"""The migrations build exactly the schema the models describe."""

import sqlalchemy as sa
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


def _insert(connection, table: str, **values) -> None:
    """A row with these values and a stand-in for every other required column."""
    columns = connection.execute(sa.text(f'PRAGMA table_info("{table}")')).all()
    for _cid, name, kind, notnull, default, pk in columns:
        if notnull and default is None and not pk and name not in values:
            values[name] = 0 if "INT" in kind.upper() or "BOOL" in kind.upper() else "x"
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    connection.execute(sa.text(f'INSERT INTO "{table}" ({names}) VALUES ({marks})'), values)


def test_photos_kept_before_photos_named_their_citizen_name_them_after_the_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'node.db'}"
    upgrade(url, "0008_office")
    # Foreign keys off, as a bare connection has them: only the photo's link is under test.
    with sa.create_engine(url).begin() as connection:
        _insert(connection, "citizens", id=7)
        _insert(connection, "cases", id=3, citizen_id=7)
        _insert(connection, "case_photos", id=1, case_id=3, path="photos/BO-1/a.jpg")
    upgrade(url)
    with make_engine(url).connect() as connection:
        photo = connection.execute(sa.text("SELECT citizen_id, public_token FROM case_photos"))
        [(citizen_id, token)] = photo.all()
    assert citizen_id == 7 and token
