"""Alembic environment for the hub database."""

from alembic import context

from federation.hub.database import make_engine
from federation.hub.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Run migrations online against the configured URL."""
    url = config.get_main_option("sqlalchemy.url")
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
