"""Node fixtures: an app on a fresh migrated SQLite instance, and a session bound to it."""

from pathlib import Path

import pytest

from node.app import create_app
from node.database import get_db
from node.migrate import upgrade
from tests.factories import load_services


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    """An empty instance folder."""
    path = tmp_path / "instance"
    path.mkdir()
    return path


@pytest.fixture
def app(instance: Path):
    """A node app for Bologna on a migrated SQLite database with the example services."""
    app = create_app(
        {
            "INSTANCE_PATH": instance,
            "SECRET_KEY": "test",
            "CITY": "Bologna",
            "COUNTRY": "IT",
            "POPULATION": 390_000,
            "DEFAULT_COUNTRY_CODE": "IT",
            "DISTRICTS": ["Navile", "Savena"],
            "TESTING": True,
        }
    )
    upgrade(app.config["DATABASE_URL"])
    with get_db(app).session() as db_session:
        load_services(db_session, instance)
        db_session.commit()
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def db_session(app):
    """A session on the app's database; tests commit when they mean to."""
    with get_db(app).session() as session:
        yield session
