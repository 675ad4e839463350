"""Alembic environment for the hub database."""

from federation.hub.models import Base
from runtime.migrate import run_migrations

run_migrations(Base.metadata)
