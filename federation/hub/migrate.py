"""The hub's Alembic migrations, run by `carmen hub init` and `migrate`, and by the tests."""

from pathlib import Path

from runtime.migrate import Migrations

MIGRATIONS = Migrations(Path(__file__).parent / "migrations")
alembic_config = MIGRATIONS.config
upgrade = MIGRATIONS.upgrade
