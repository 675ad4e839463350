"""Alembic environment for the node database."""

from node.models import Base
from runtime.migrate import run_migrations

run_migrations(Base.metadata)
