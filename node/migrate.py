"""The node's Alembic migrations, run by `carmen node init`, on every start and by the tests."""

from pathlib import Path

from runtime.migrate import Migrations

MIGRATIONS = Migrations(Path(__file__).parent / "migrations")
alembic_config = MIGRATIONS.config
upgrade = MIGRATIONS.upgrade
