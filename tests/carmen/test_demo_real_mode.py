"""The demo in real mode: PostgreSQL databases, a Redis broker, gunicorn and Celery processes."""

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from carmen.demo import RealMode, prepare
from carmen.simulator import attribute_answers
from carmen.workers import NodeWorker
from federation.hub.aggregates.models import AggregateCell
from federation.hub.app import create_app as create_hub
from federation.hub.database import get_db as hub_db
from node.cases.models import Case
from node.database import get_db
from node.instance import open_app
from node.intake import service as intake
from node.services import service as catalogue
from node.services.service import spec_of
from node.sync.models import SyncPeriod
from node.sync.service import get_link
from tests.carmen.conftest import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.heavy]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def real_mode(postgres_server_url, redis_url):
    real = RealMode(postgres_server_url, redis_url, prefix=f"carmen_t{uuid.uuid4().hex[:8]}")
    yield real
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in real.databases():
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def wait_for(check, seconds: float, what: str, process=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    output = ""
    if process is not None:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    pytest.fail(f"{what} did not happen in {seconds} s\n{output}")


def test_the_demo_runs_on_postgres_and_redis_with_gunicorn_and_celery(
    tmp_path, real_mode, unused_ports, redis_url
):
    import random

    state = prepare(
        root=tmp_path / "demo",
        fresh=False,
        scale=0.1,
        months=2,
        cities=["Bologna", "Tallinn"],
        ports=unused_ports,
        real=real_mode,
    )
    instance = Path(state.nodes["it-bologna"])
    node = open_app(instance)
    assert get_db(node).engine.dialect.name == "postgresql"
    hub = create_hub({"INSTANCE_PATH": Path(state.hub)})
    assert hub_db(hub).engine.dialect.name == "postgresql"
    with hub_db(hub).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AggregateCell)) > 0

    node_worker = NodeWorker(
        instance, schedule=tmp_path / "beat", queue=f"carmen-test-{uuid.uuid4().hex[:8]}"
    )
    env = node_worker.env
    port = free_port()
    processes = []
    try:
        # The hub, so that the node's worker can push to it.
        with get_db(node).session() as session:
            hub_port = httpx.URL(get_link(db_session=session).hub_url).port
        processes.append(
            subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "carmen"),
                    "hub",
                    "serve",
                    "--instance",
                    state.hub,
                    "--port",
                    str(hub_port),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
        gunicorn = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--preload",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "node.wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(gunicorn)
        worker = node_worker.start(cwd=ROOT)
        processes.append(worker)

        def portal_answers():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz").json()["city"] == "Bologna"
            except httpx.HTTPError:
                return False

        wait_for(portal_answers, 30, "gunicorn serving the node", gunicorn)
        rng = random.Random(3)
        january = datetime(2026, 1, 10, tzinfo=UTC)
        with get_db(node).session() as session:
            spec = spec_of(catalogue.get(db_session=session, code="issue-report"))
            for day in range(12):
                intake.submit(
                    db_session=session,
                    service_code=spec.code,
                    channel="web",
                    description="Rubbish left by the river",
                    tracking_prefix="RM",
                    attributes=attribute_answers(spec, rng, january),
                    now=january + timedelta(days=day),
                )
            session.commit()

        def acknowledged():
            with get_db(node).session() as session:
                row = session.get(SyncPeriod, "2026-01")
                return row is not None and row.revision >= 1 and not row.pending

        wait_for(acknowledged, 60, "the worker pushing January to the hub", worker)
        with get_db(node).session() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Case)) > 12
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
