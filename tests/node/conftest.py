"""Node fixtures: an app on a fresh migrated SQLite instance, a session bound to it, and a real
SMTP server on loopback."""

import threading
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from werkzeug.serving import make_server

from node.database import get_db
from tests.factories import make_node_app, make_template_node_app
from tests.node.smtp import Inbox, free_port
from tests.node.web import cheap_password_hashing


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


@pytest.fixture
def smtp():
    """A real SMTP server on a free loopback port, and the inbox of what it accepted."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def live_url(app, monkeypatch):
    """The app served on a free loopback port, CSRF on, as in production."""
    cheap_password_hashing(monkeypatch)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
