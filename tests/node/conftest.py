"""Node fixtures: an app on a fresh migrated SQLite instance, and a session bound to it."""

from pathlib import Path

import pytest

from node.database import get_db
from tests.factories import make_node_app, make_template_node_app


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    """An empty instance folder."""
    path = tmp_path / "instance"
    path.mkdir()
    return path


@pytest.fixture
def app(instance: Path):
    """A node app for Bologna on a migrated SQLite database with the example services."""
    app = make_node_app(instance)
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def template_app(instance: Path):
    """A node app whose services are generated from the shipped templates, beside the examples."""
    app = make_template_node_app(instance)
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def db_session(app):
    """A session on the app's database; tests commit when they mean to."""
    with get_db(app).session() as session:
        yield session
