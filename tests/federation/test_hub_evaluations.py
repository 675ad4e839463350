"""Evaluation runs at the hub: debounced requests, an idempotent task, results kept and served."""

import pytest

from federation.hub.database import get_db, utcnow
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


def evaluate_now(app, evaluator=None):
    """One run, as the task makes it, with the real evaluation unless another is given."""
    from federation.hub.database import utcnow

    with app.app_context(), get_db(app).session() as session:
        run = evaluations.request_run(db_session=session, seed=0)
        evaluations.start_run(db_session=session, run_id=run.id, now=utcnow())
        evaluations.execute_run(
            db_session=session, run=run, now=utcnow(), options=FAST, evaluator=evaluator
        )
        session.commit()
        return run


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_node_whose_data_cannot_be_evaluated_is_left_out_with_a_warning(evaluated_hub, api_token):
    import sqlalchemy as sa

    # Shares of only some age bands, as the hub accepted them before it checked registrations.
    with get_db(evaluated_hub).engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE nodes SET population_shares = :shares WHERE slug = 'porto'"),
            {"shares": '{"16-24": 0.1, "25-54": 0.4}'},
        )
    run = evaluate_now(evaluated_hub)
    assert run.status == "done", run.error
    assert {row["city_id"] for row in run.results["kpis"]} == set(CITIES) - {"porto"}
    [warning] = run.warnings
    assert warning["node"] == "porto" and "left out" in warning["message"]
    assert "share_55-74" in warning["message"]

    client = evaluated_hub.test_client()
    latest = client.get("/api/v1/evaluations/latest", headers=bearer(api_token)).json
    assert latest["warnings"] == run.warnings and latest["latest_attempt"] is None
    nodes = client.get("/api/v1/nodes", headers=bearer(api_token)).json["nodes"]
    flagged = {node["node"]: node["evaluation_warning"] for node in nodes}
    assert flagged["porto"].startswith("left out") and flagged["bologna"] is None


def test_a_node_the_evaluation_fails_on_is_left_out_and_the_others_evaluated(evaluated_hub):
    import evaluation

    def fails_on_gent(cities, observations, **kwargs):
        # Stands for an evaluation that breaks on one city's figures.
        if "gent" in set(cities["city_id"]):
            raise ZeroDivisionError("division by zero in gent's segment mix")
        return evaluation.run_evaluation(cities, observations, **kwargs)

    run = evaluate_now(evaluated_hub, evaluator=fails_on_gent)
    assert run.status == "done", run.error
    assert {row["city_id"] for row in run.results["kpis"]} == set(CITIES) - {"gent"}
    assert run.warnings == [
        {
            "node": "gent",
            "message": "left out: the evaluation fails with its data "
            "(ZeroDivisionError: division by zero in gent's segment mix)",
        }
    ]


def test_a_failed_run_never_replaces_the_results_served(evaluated_hub, api_token):
    first = evaluate_now(evaluated_hub)
    assert first.status == "done", first.error

    def broken(cities, observations, **kwargs):
        raise RuntimeError("the evaluation package is broken")

    failed = evaluate_now(evaluated_hub, evaluator=broken)
    assert failed.status == "failed" and "broken" in failed.error
    client = evaluated_hub.test_client()
    latest = client.get("/api/v1/evaluations/latest", headers=bearer(api_token)).json
    assert latest["id"] == first.id and latest["status"] == "done"
    assert latest["latest_attempt"]["id"] == failed.id
    assert "broken" in latest["latest_attempt"]["error"]
    table = client.get("/api/v1/evaluations/latest/viability", headers=bearer(api_token))
    assert table.status_code == 200 and table.json["run_id"] == first.id


def test_before_any_success_the_tables_say_why_there_is_nothing(evaluated_hub, api_token):
    def broken(cities, observations, **kwargs):
        raise RuntimeError("the evaluation package is broken")

    evaluate_now(evaluated_hub, evaluator=broken)
    client = evaluated_hub.test_client()
    response = client.get("/api/v1/evaluations/latest/kpis", headers=bearer(api_token))
    assert response.status_code == 404
    assert "no evaluation has succeeded yet" in response.json["message"]
    assert "broken" in response.json["message"]


def test_a_suspended_node_is_left_out_of_evaluations_with_a_warning(evaluated_hub):
    from federation.hub.nodes import service as nodes

    with evaluated_hub.app_context(), get_db(evaluated_hub).session() as session:
        nodes.set_active(db_session=session, slug="tallinn", active=False)
        session.commit()
    run = evaluate_now(evaluated_hub)
    assert run.status == "done", run.error
    assert "tallinn" not in {row["city_id"] for row in run.results["kpis"]}
    assert run.warnings == [
        {"node": "tallinn", "message": "suspended: its data is left out until it is resumed"}
    ]


def test_the_federation_s_cost_figures_set_the_target_the_run_states(tmp_path, migrated_hub_db):
    costs = {"default": {"setup": 0, "monthly": 9_000_000}}
    app = make_hub(
        tmp_path / "hub", migrated_hub_db, EVALUATION_OPTIONS=FAST, EVALUATION_COSTS=costs
    )
    client = app.test_client()
    for city in CITIES:
        identity = make_identity(city)
        enroll(app, identity)
        body = body_of(make_snapshot(city, "2025-01"))
        client.post(SNAPSHOTS_PATH, data=body, headers=signed_headers(identity, body))
    options = evaluations.evaluation_options(app.config)
    assert options["costs"] == costs and options["resamples"] == 10
    with app.app_context(), get_db(app).session() as session:
        run = evaluations.run_now(db_session=session, seed=0, now=utcnow(), options=options)
        session.commit()
        targets = run.results["targets"]
    get_db(app).engine.dispose()
    assert targets and {row["source"] for row in targets} == {"the hub's EVALUATION_COSTS"}
    assert all("9,000,000 EUR a month" in row["sentence"] for row in targets)
