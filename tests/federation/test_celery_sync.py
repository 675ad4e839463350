"""A real Celery worker and beat on Redis push a node's snapshots to a hub served over HTTP."""

import random
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from carmen.cli import main
from carmen.workers import NodeWorker
from node.database import get_db as node_db
from node.instance import initialise, open_app
from tests.factories import install_example_services, seed_month
from tests.federation.test_node_sync import enrollment_token, hub_rows, node_rows, serving

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.heavy]


def test_worker_and_beat_deliver_every_snapshot_to_the_hub(hub_app, redis_url, tmp_path):
    instance = tmp_path / "bologna"
    initialise(
        path=instance,
        city="Bologna",
        country="IT",
        population=390_000,
        admin_email="admin@comune.example",
        admin_password="not-used-here",
    )
    install_example_services(instance)
    app = open_app(instance)
    from node.instance import load_services

    load_services(app)
    with node_db(app).session() as session:
        seed_month(session, year=2026, month=5, cases=60, rng=random.Random(9))
        session.commit()
    worker = NodeWorker(
        instance,
        schedule=tmp_path / "beat-schedule",
        broker_url=redis_url,
        queue=f"carmen-test-{uuid.uuid4().hex[:8]}",
    )
    with serving(hub_app) as (url, _port):
        enrolled = CliRunner().invoke(
            main,
            [
                "node",
                "enroll",
                "--instance",
                str(instance),
                "--hub",
                url,
                "--token",
                enrollment_token(hub_app),
            ],
        )
        assert enrolled.exit_code == 0, enrolled.output
        worker = worker.start(cwd=Path(__file__).resolve().parents[2])
        try:
            deadline = time.monotonic() + 60
            expected = None
            while time.monotonic() < deadline:
                expected = expected or node_rows(open_app(instance)) or None
                if expected and hub_rows(hub_app) == expected:
                    break
                time.sleep(1)
            else:
                worker.terminate()
                pytest.fail(f"the hub never caught up; worker said:\n{worker.communicate()[0]}")
        finally:
            worker.terminate()
            worker.wait(timeout=20)
    assert expected, "the worker built the node's snapshots"
