"""Real node and hub apps on fresh SQLite instances, as the load test and the fuzzers drive them."""

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from federation.hub.accounts import service as accounts
from federation.hub.accounts.models import Role
from federation.hub.app import create_app as create_hub_app
from federation.hub.database import get_db as hub_db
from federation.hub.database import utcnow as hub_now
from federation.hub.migrate import upgrade as upgrade_hub
from federation.hub.nodes import service as hub_nodes
from federation.protocol.models import NodeRegistration
from federation.protocol.signing import generate_private_key, public_key_b64
from node.app import create_app as create_node_app
from node.database import get_db as node_db
from node.intake import clients
from node.migrate import upgrade as upgrade_node
from node.services.service import load_catalogue
from node.staff import service as staff

EXAMPLE_SERVICES = Path(__file__).resolve().parents[1] / "node" / "services" / "examples"


def node_app(
    folder: Path, database_url: str | None = None, extra_services: dict[str, str] | None = None
) -> tuple[Flask, str]:
    """A Bologna node with the example services and limits off; returns it and an app's API key.

    Its database is SQLite in `folder` unless a (fresh, empty) `database_url` is given;
    `extra_services` maps more service codes to the text of their service.toml.
    """
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXAMPLE_SERVICES, folder / "services", dirs_exist_ok=True)
    for code, spec in (extra_services or {}).items():
        (folder / "services" / code).mkdir(parents=True, exist_ok=True)
        (folder / "services" / code / "service.toml").write_text(spec, encoding="utf-8")
    app = create_node_app(
        {
            "INSTANCE_PATH": folder,
            **({"DATABASE_URL": database_url} if database_url else {}),
            "SECRET_KEY": "reliability",
            "CITY": "Bologna",
            "COUNTRY": "IT",
            # Every request comes from one loopback address: measure the work, not the limits.
            "RATELIMIT_ENABLED": False,
        }
    )
    upgrade_node(app.config["DATABASE_URL"])
    with node_db(app).session() as session:
        report = load_catalogue(db_session=session, services_dir=folder / "services")
        if report.errors:
            raise RuntimeError(f"the example services did not load: {report.errors}")
        # A node serves only services whose departments have staff (node.wsgi refuses others).
        for department in sorted({d for spec in report.specs for d in spec.departments}):
            staff.create_user(
                db_session=session,
                email=f"caseworker.{department}@reliability.example",
                role="caseworker",
                password=uuid.uuid4().hex,
                department_code=department,
                must_change_password=False,
            )
        _, key = clients.create_client(db_session=session, name="reliability app", kind="app")
        session.commit()
    return app, key


@dataclass
class HubUnderTest:
    """A hub with one enrolled node (its key at hand) and a coordinator's read-API token."""

    app: Flask
    node: str
    key: Ed25519PrivateKey
    token: str
    enrollment_token: str


def registration(slug: str, key: Ed25519PrivateKey) -> NodeRegistration:
    """A valid registration of a node with this key."""
    return NodeRegistration.model_validate(
        {
            "node": slug,
            "city": "Bologna",
            "country": "IT",
            "population": 390_000,
            "languages": ["it", "en"],
            "channels": ["web", "app", "sms", "phone"],
            "context": {"internet_use_pct": 83.5},
            "population_shares": {"16-24": 0.09, "25-54": 0.42, "55-74": 0.27, "75+": 0.13},
            "public_key": public_key_b64(key),
        }
    )


def hub_app(folder: Path, database_url: str | None = None) -> HubUnderTest:
    """A migrated hub, one node enrolled through its endpoint, and a spare enrollment token."""
    folder.mkdir(parents=True, exist_ok=True)
    database_url = database_url or f"sqlite:///{folder / 'hub.db'}"
    upgrade_hub(database_url)
    app = create_hub_app(
        {
            "INSTANCE_PATH": folder,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "reliability",
            "EVALUATE_ON_INGEST": False,
        }
    )
    key = generate_private_key()
    with app.app_context(), hub_db(app).session() as session:
        enroll_token, _ = hub_nodes.create_enrollment_token(
            db_session=session, city="Bologna", country="IT", now=hub_now(), ttl_hours=24
        )
        spare_token, _ = hub_nodes.create_enrollment_token(
            db_session=session, city="Tallinn", country="EE", now=hub_now(), ttl_hours=24
        )
        user, _ = accounts.create_user(
            db_session=session, username="cora", role=Role.COORDINATOR, password="coordinator-pass"
        )
        token, _ = accounts.create_api_token(
            db_session=session, user=user, name="reliability", now=hub_now(), ttl_days=1
        )
        session.commit()
    answer = app.test_client().post(
        "/api/v1/enroll",
        json={
            "token": enroll_token,
            "registration": registration("it-bologna", key).model_dump(mode="json"),
        },
    )
    if answer.status_code != 201:
        raise RuntimeError(f"the hub refused to enroll a node: {answer.status_code} {answer.text}")
    return HubUnderTest(app, "it-bologna", key, token, spare_token)


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server named, dropped afterwards."""
    name = f"carmen_reliability_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def finish(
    figures: list[tuple[str, float | str]], notes: list[str], *, label: str, failed: bool
) -> NoReturn:
    """Print a run's figures and notes (`label: note`), then exit 1 when it failed, else 0."""
    for name, value in figures:
        print(f"{name}: {value:,.3f}" if isinstance(value, float) else f"{name}: {value}")
    for note in notes:
        print(f"{label}: {note}")
    raise SystemExit(1 if failed else 0)
