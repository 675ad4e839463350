"""The hub's real mode: a Celery worker on Redis runs the evaluation a stored snapshot asked for."""

import os
import subprocess
import sys
import time
import uuid

import pytest
from click.testing import CliRunner

from carmen.cli import main
from federation.hub import create_app
from federation.hub.database import get_db
from federation.hub.errors import NotFound
from federation.hub.evaluations import service as evaluations
from tests.federation.conftest import enroll
from tests.federation.factories import (
    SNAPSHOTS_PATH,
    body_of,
    make_identity,
    make_snapshot,
    signed_headers,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.heavy]
FAST = "{resamples = 10, backtest_resamples = 10}"


def test_a_worker_on_redis_runs_the_debounced_evaluation(redis_url, tmp_path):
    instance = tmp_path / "hub"
    result = CliRunner().invoke(
        main, ["hub", "init", "--instance", str(instance), "--broker-url", redis_url]
    )
    assert result.exit_code == 0, result.output
    env = {
        **os.environ,
        "CARMEN_HUB_INSTANCE": str(instance),
        "CARMEN_HUB_TASK_QUEUE": f"carmen-hub-test-{uuid.uuid4().hex[:8]}",
        "CARMEN_HUB_EVALUATION_DEBOUNCE_SECONDS": "1",
        "CARMEN_HUB_EVALUATION_OPTIONS": FAST,
    }
    os.environ.update({k: v for k, v in env.items() if k.startswith("CARMEN_HUB_")})
    try:
        app = create_app({"INSTANCE_PATH": instance})
    finally:
        for key in [k for k in os.environ if k.startswith("CARMEN_HUB_")]:
            del os.environ[key]
    assert app.config["EVALUATE_ON_INGEST"] is True  # a real broker turns it on
    client = app.test_client()
    for city in ("bologna", "tallinn", "porto"):
        identity = make_identity(city)
        enroll(app, identity)
        for month in (1, 2):
            body = body_of(make_snapshot(city, f"2025-{month:02d}"))
            response = client.post(
                SNAPSHOTS_PATH, data=body, headers=signed_headers(identity, body)
            )
            assert response.status_code == 200

    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "federation.hub.worker",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "warning",
            "-Q",
            env["CARMEN_HUB_TASK_QUEUE"],
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        run = None
        while time.monotonic() < deadline:
            with app.app_context(), get_db(app).session() as session:
                try:
                    run = evaluations.latest_run(db_session=session)
                except NotFound:
                    run = None
            if run is not None:
                break
            if worker.poll() is not None:
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert run is not None, f"the worker never ran the evaluation:\n{output}"
    assert run.status == "done", run.error
    # Debounced: six stored snapshots asked for one run, not six.
    with app.app_context(), get_db(app).session() as session:
        from federation.hub.evaluations.models import EvaluationRun

        assert session.query(EvaluationRun).count() == 1
    get_db(app).engine.dispose()
