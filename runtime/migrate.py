"""Alembic for one part's migrations: upgrade a database from code, and the body of env.py."""

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from runtime.database import make_engine


@dataclass(frozen=True)
class Migrations:
    """A part's folder of Alembic migrations (its env.py calls `run_migrations`)."""

    folder: Path

    def config(self, database_url: str) -> Config:
        """An Alembic configuration for these migrations against one database."""
        config = Config()
        config.set_main_option("script_location", str(self.folder))
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
        return config

    def upgrade(self, database_url: str, revision: str = "heads") -> None:
        """Bring a database up to the given revision (every branch head by default)."""
        command.upgrade(self.config(database_url), revision)


def run_migrations(metadata: sa.MetaData) -> None:
    """Run the migrations online, on the connection given in the Alembic configuration's
    attributes or else on the configured URL; `metadata` is the part's models' metadata."""
    from alembic import context

    given = context.config.attributes.get("connection")
    if given is not None:
        _run(context, given, metadata)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            _run(context, connection, metadata)
    finally:
        engine.dispose()


def _run(context, connection: sa.Connection, metadata: sa.MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
