"""Migrations from empty on SQLite and PostgreSQL, and ingest semantics on PostgreSQL."""

import pytest
import sqlalchemy as sa

from federation.hub import create_app
from federation.hub.database import get_db
from federation.hub.migrate import alembic_config, upgrade
from federation.hub.models import Base
from tests.federation.conftest import enroll
from tests.federation.factories import (
    SNAPSHOTS_PATH,
    body_of,
    make_identity,
    make_snapshot,
    signed_headers,
)


@pytest.mark.postgres
def test_migrations_build_the_models_schema_on_postgres(postgres_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    upgrade(postgres_url)
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    assert alembic_config(postgres_url).get_main_option("script_location")


@pytest.mark.postgres
def test_ingest_keeps_the_highest_revision_on_postgres(postgres_url, tmp_path):
    upgrade(postgres_url)
    app = create_app(
        {
            "INSTANCE_PATH": tmp_path,
            "DATABASE_URL": postgres_url,
            "SECRET_KEY": "t",
            "EVALUATE_ON_INGEST": False,
        }
    )
    identity = make_identity("bologna")
    enroll(app, identity)
    client = app.test_client()
    statuses = []
    for revision in (2, 1, 2, 3):
        body = body_of(make_snapshot("bologna", revision=revision))
        response = client.post(SNAPSHOTS_PATH, data=body, headers=signed_headers(identity, body))
        statuses.append(response.json["status"])
    assert statuses == ["stored", "ignored_lower_revision", "unchanged", "stored"]
    with get_db(app).engine.connect() as conn:
        held = conn.execute(sa.text("SELECT revision FROM snapshots")).scalars().all()
    assert held == [3]
    get_db(app).engine.dispose()


def test_sqlite_migrations_match_the_models(migrated_hub_db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = sa.create_engine(f"sqlite:///{migrated_hub_db}")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


@pytest.mark.postgres
def test_concurrent_pushes_of_one_period_keep_the_highest_revision_on_postgres(
    postgres_url, tmp_path
):
    from concurrent.futures import ThreadPoolExecutor

    from tests.federation.test_hub_sync import expected_cells, hub_cells

    upgrade(postgres_url)
    app = create_app(
        {
            "INSTANCE_PATH": tmp_path,
            "DATABASE_URL": postgres_url,
            "SECRET_KEY": "t",
            "EVALUATE_ON_INGEST": False,
        }
    )
    identity = make_identity("bologna")
    enroll(app, identity)
    snapshots = [make_snapshot("bologna", revision=revision) for revision in range(1, 13)]

    def push(snapshot):
        body = body_of(snapshot)
        response = app.test_client().post(
            SNAPSHOTS_PATH, data=body, headers=signed_headers(identity, body)
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(push, snapshots * 2))
    assert set(statuses) == {200}
    assert hub_cells(app, "bologna") == expected_cells(snapshots)
    get_db(app).engine.dispose()
