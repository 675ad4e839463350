"""Evaluation runs at the hub: debounced requests, an idempotent task, results kept and served."""

import pytest

from federation.hub.database import get_db
from federation.hub.evaluations import service as evaluations
from federation.hub.evaluations.tasks import run_evaluation
from runtime.celery_app import send_after_commit
from tests.federation.conftest import enroll, make_hub
from tests.federation.factories import (
    SNAPSHOTS_PATH,
    body_of,
    make_identity,
    make_snapshot,
    signed_headers,
)

CITIES = ["bologna", "tallinn", "porto", "gent"]
FAST = {"resamples": 10, "backtest_resamples": 10}


@pytest.fixture
def evaluated_hub(tmp_path, migrated_hub_db):
    app = make_hub(tmp_path / "hub", migrated_hub_db, EVALUATION_OPTIONS=FAST)
    client = app.test_client()
    for city in CITIES:
        identity = make_identity(city)
        enroll(app, identity)
        for month in (1, 2, 3):
            body = body_of(make_snapshot(city, f"2025-{month:02d}"))
            assert (
                client.post(
                    SNAPSHOTS_PATH, data=body, headers=signed_headers(identity, body)
                ).status_code
                == 200
            )
    yield app
    get_db(app).engine.dispose()


def test_requests_are_debounced_and_the_task_runs_each_run_once(evaluated_hub, api_token):
    app = evaluated_hub
    with app.app_context(), get_db(app).session() as session:
        first = evaluations.request_run(db_session=session, seed=0)
        assert evaluations.request_run(db_session=session, seed=0) is None  # one pending is enough
        send_after_commit(session, run_evaluation, first.id)
        session.commit()
        run_id = first.id
    with app.test_request_context():
        assert run_evaluation.run(run_id) is None  # a second delivery finds it done: no-op
    client = app.test_client()
    latest = client.get(
        "/api/v1/evaluations/latest", headers={"Authorization": f"Bearer {api_token}"}
    ).json
    assert latest["id"] == run_id
    assert latest["status"] == "done", latest["error"]
    kpi_cities = {row["city_id"] for row in latest["results"]["kpis"]}
    assert kpi_cities == set(CITIES)
    headers = {"Authorization": f"Bearer {api_token}"}
    table = client.get("/api/v1/evaluations/latest/viability", headers=headers).json
    assert table["run_id"] == run_id
    assert table["rows"] == latest["results"]["viability"]
    missing = client.get("/api/v1/evaluations/latest/horoscope", headers=headers)
    assert missing.status_code == 404
    assert "kpis" in missing.json["message"]  # the message lists the tables there are


def test_a_stored_snapshot_schedules_an_evaluation_when_enabled(tmp_path, migrated_hub_db):
    app = make_hub(
        tmp_path / "hub", migrated_hub_db, EVALUATE_ON_INGEST=True, EVALUATION_OPTIONS=FAST
    )
    identity = make_identity("bologna")
    enroll(app, identity)
    body = body_of(make_snapshot("bologna"))
    client = app.test_client()
    client.post(SNAPSHOTS_PATH, data=body, headers=signed_headers(identity, body))
    with app.app_context(), get_db(app).session() as session:
        run = evaluations.latest_run(db_session=session)
    # One city cannot be judged, but the run is recorded with what happened, not lost.
    assert run.status in {"done", "failed"}
    assert run.finished_at is not None
    again = body_of(make_snapshot("bologna"))  # same content: nothing new to evaluate
    client.post(SNAPSHOTS_PATH, data=again, headers=signed_headers(identity, again))
    with app.app_context(), get_db(app).session() as session:
        assert evaluations.latest_run(db_session=session).id == run.id
    get_db(app).engine.dispose()


def test_evaluation_is_off_on_ingest_in_the_embedded_default(tmp_path, migrated_hub_db):
    app = make_hub(tmp_path / "hub", migrated_hub_db, EVALUATE_ON_INGEST=None)
    assert app.config["EVALUATE_ON_INGEST"] is False
    get_db(app).engine.dispose()


def test_evaluating_now_runs_the_pending_run_instead_of_queueing_another(evaluated_hub):
    from federation.hub.database import utcnow
    from federation.hub.evaluations.models import EvaluationRun

    with evaluated_hub.app_context(), get_db(evaluated_hub).session() as session:
        pending = evaluations.request_run(db_session=session, seed=3)
        run = evaluations.run_now(db_session=session, seed=0, now=utcnow(), options=FAST)
        session.commit()
        assert run.id == pending.id and run.seed == 3
        assert run.status == "done" and run.results["kpis"]
        assert session.query(EvaluationRun).count() == 1
