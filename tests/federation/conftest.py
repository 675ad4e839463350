"""Fixtures for the federation tests: a migrated hub on SQLite, enrolled nodes, API tokens."""

import shutil
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from federation.hub import create_app
from federation.hub.accounts import service as accounts
from federation.hub.accounts.models import Role
from federation.hub.database import get_db, utcnow
from federation.hub.migrate import upgrade
from federation.hub.nodes import service as nodes
from tests.federation.factories import (
    SNAPSHOTS_PATH,
    NodeIdentity,
    body_of,
    make_identity,
    make_registration,
    signed_headers,
)


@pytest.fixture(scope="session")
def migrated_hub_db(tmp_path_factory) -> Path:
    """An empty hub database brought up by the migrations once; tests get copies."""
    path = tmp_path_factory.mktemp("hub-template") / "hub.db"
    upgrade(f"sqlite:///{path}")
    return path


def make_hub(instance: Path, migrated: Path, **config):
    """A hub app on a copy of the migrated database in an instance folder."""
    instance.mkdir(parents=True, exist_ok=True)
    db_file = instance / "hub.db"
    if not db_file.exists():
        shutil.copy(migrated, db_file)
    settings = {"INSTANCE_PATH": instance, "SECRET_KEY": "test", "EVALUATE_ON_INGEST": False}
    settings.update(config)
    return create_app(settings)


@pytest.fixture
def hub_app(tmp_path, migrated_hub_db):
    """A hub on a fresh SQLite database, tasks eager, evaluation off unless a test turns it on."""
    app = make_hub(tmp_path / "hub", migrated_hub_db)
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def client(hub_app):
    """A test client of the hub."""
    return hub_app.test_client()


def enroll(app, identity: NodeIdentity, **registration_overrides) -> int:
    """Enroll a node through the enrollment endpoint, as `carmen node enroll` does."""
    with app.app_context(), get_db(app).session() as session:
        token, _ = nodes.create_enrollment_token(
            db_session=session,
            city=identity.city,
            country=identity.country,
            slug=identity.slug,
            now=utcnow(),
            ttl_hours=1,
        )
        session.commit()
    registration = make_registration(identity, **registration_overrides)
    response = app.test_client().post(
        "/api/v1/enroll",
        json={"token": token, "registration": registration.model_dump(mode="json")},
    )
    assert response.status_code == 201, response.json
    return response.json["node_id"]


@pytest.fixture
def enrolled(hub_app) -> Callable[..., NodeIdentity]:
    """Factory: enroll a node with a fresh key and return its identity."""

    def factory(slug: str = "bologna", city: str | None = None, country: str = "IT"):
        identity = make_identity(slug, city, country)
        enroll(hub_app, identity)
        return identity

    return factory


@pytest.fixture
def push(client):
    """Push a snapshot (or raw body) signed by a node; returns the response."""

    def pusher(identity: NodeIdentity, snapshot, *, headers: dict | None = None, **sign_kwargs):
        body = snapshot if isinstance(snapshot, bytes) else body_of(snapshot)
        sent = signed_headers(identity, body, **sign_kwargs) if headers is None else headers
        return client.post(SNAPSHOTS_PATH, data=body, headers=sent)

    return pusher


@pytest.fixture
def api_token(hub_app) -> str:
    """A read-API token of a coordinator."""
    with hub_app.app_context(), get_db(hub_app).session() as session:
        user, _ = accounts.create_user(
            db_session=session, username="cora", role=Role.COORDINATOR, password="coordinator-pass"
        )
        token, _ = accounts.create_api_token(
            db_session=session, user=user, name="t", now=utcnow(), ttl_days=1
        )
        session.commit()
    return token


def stored_counts(app) -> dict[str, int]:
    """How many rows each hub table holds."""
    tables = ["snapshots", "aggregate_cells", "seen_nonces", "node_services"]
    with get_db(app).engine.connect() as conn:
        return {
            table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in tables
        }


@contextmanager
def serving_hub(app):
    """The hub on a loopback port, as `carmen hub serve` would listen."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hub_url(hub_app, node_app):
    """The hub served over HTTP, with the module's `node_app` enrolled through it."""
    from pathlib import Path

    from federation.hub.database import utcnow as hub_now
    from node.database import get_db as node_db
    from node.sync import service as sync

    with hub_app.app_context(), get_db(hub_app).session() as session:
        token, _ = nodes.create_enrollment_token(
            db_session=session, city="Bologna", country="IT", now=hub_now(), ttl_hours=1
        )
        session.commit()
    with serving_hub(hub_app) as url:
        with node_db(node_app).session() as session:
            sync.enroll_with_hub(
                db_session=session,
                settings=node_app.config,
                instance=Path(node_app.instance_path),
                hub_url=url,
                token=token,
            )
            session.commit()
        yield url
