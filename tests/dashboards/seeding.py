"""A small seeded hub for the dashboard tests: enrolled nodes, signed snapshots, an evaluation."""

import random
from dataclasses import dataclass
from pathlib import Path

from federation.hub.accounts import service as accounts
from federation.hub.accounts.models import Role
from federation.hub.database import get_db, utcnow
from federation.hub.evaluations import service as evaluations
from tests.federation.conftest import enroll, make_hub
from tests.federation.factories import (
    SNAPSHOTS_PATH,
    body_of,
    make_identity,
    make_snapshot,
    signed_headers,
)

# (slug, city, country, population, internet use %, e-gov index, services piloted)
CITIES = [
    ("bologna", "Bologna", "IT", 390_000, 78.0, 0.82, ("noise", "bins", "alerts")),
    ("tallinn", "Tallinn", "EE", 440_000, 91.0, 0.86, ("noise", "bins", "alerts")),
    ("porto", "Porto", "PT", 230_000, 74.0, 0.78, ("noise", "bins")),
    ("gent", "Gent", "BE", 260_000, 88.0, 0.80, ("noise", "alerts")),
    ("tartu", "Tartu", "EE", 95_000, 90.0, 0.86, ("noise", "bins", "alerts")),
    ("brno", "Brno", "CZ", 380_000, 82.0, 0.71, ("noise",)),
]
SERVICES = {
    "noise": {"code": "noise", "template": "noise_report", "template_version": "1.2.0"},
    "bins": {
        "code": "bins",
        "template": "bulky_waste",
        "template_version": "0.3.0",
        "cloned_from": {"node": "tallinn", "service": "bins"},
    },
    "alerts": {"code": "alerts", "template": "traffic_alerts", "template_version": "2.0.1"},
}
MONTHS = [f"2025-{month:02d}" for month in range(1, 9)]
PASSWORD = "coordinator-pass"
FAST = {"resamples": 10, "backtest_resamples": 10}


@dataclass
class SeededHub:
    """A hub app with data and an evaluation, and a coordinator's login and token."""

    app: object
    username: str
    password: str
    token: str


def seed_hub(instance: Path, migrated: Path, **config) -> SeededHub:
    """Enroll the cities, push a few months of snapshots each, run the evaluation."""
    settings = {"EVALUATION_OPTIONS": FAST, **config}
    app = make_hub(instance, migrated, **settings)
    client = app.test_client()
    for slug, city, country, population, internet, egov, codes in CITIES:
        identity = make_identity(slug, city, country)
        enroll(
            app,
            identity,
            population=population,
            context={"internet_use_pct": internet, "egov_index_2018": egov},
        )
        rng = random.Random(slug)
        for revision, period in enumerate(MONTHS, start=1):
            snapshot = make_snapshot(
                slug,
                period,
                revision,
                rng=rng,
                services=[SERVICES[code] for code in codes],
            )
            body = body_of(snapshot)
            response = client.post(
                SNAPSHOTS_PATH, data=body, headers=signed_headers(identity, body)
            )
            assert response.status_code == 200, response.json
    with app.app_context(), get_db(app).session() as session:
        user, _ = accounts.create_user(
            db_session=session, username="cora", role=Role.COORDINATOR, password=PASSWORD
        )
        token, _ = accounts.create_api_token(
            db_session=session, user=user, name="tests", now=utcnow(), ttl_days=1
        )
        run = evaluations.request_run(db_session=session, seed=0)
        evaluations.start_run(db_session=session, run_id=run.id, now=utcnow())
        evaluations.execute_run(
            db_session=session,
            run=run,
            now=utcnow(),
            options=app.config["EVALUATION_OPTIONS"],
            europe_cities_csv=app.config.get("EUROPE_CITIES"),
        )
        assert run.status == "done", run.error
        session.commit()
    return SeededHub(app=app, username="cora", password=PASSWORD, token=token)
