"""The back office's queue page with 100,000 cases, against a plain indexed query of the page.

A node on SQLite (or the PostgreSQL given) holds N cases of every status, priority, service and
department, with descriptions and addresses of real words, written with plain SQL in batches
(the search index fills from its triggers on SQLite). A supervisor's browser-less client asks for
the default queue (open cases, most urgent first), a full-text search and a filtered, sorted
page; the baseline is the plain query of the same 25 rows and its count on the indexed columns,
through the same engine. Goal: the page's p95 under 300 ms.

Run alone with `python -m bench.queue [--cases N] [--requests R] [--database-url URL]`.
"""

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

WORDS = (
    "lampione",
    "spento",
    "buca",
    "strada",
    "rifiuti",
    "abbandonati",
    "rumore",
    "notte",
    "cantiere",
    "marciapiede",
    "streetlight",
    "pothole",
    "rubbish",
    "dumped",
    "noise",
    "night",
    "works",
    "pavement",
    "graffiti",
    "tree",
    "fallen",
    "bench",
    "broken",
    "water",
    "leak",
    "smell",
    "drain",
    "blocked",
    "bins",
    "overflowing",
    "parking",
    "bike",
)
STREETS = ("Via Zamboni", "Via Indipendenza", "Piazza Verdi", "Via Irnerio", "Strada Maggiore")
STATUSES = ("new", "acknowledged", "in_progress", "resolved", "resolved", "resolved", "rejected")
PRIORITIES = ("low", "normal", "normal", "normal", "high", "urgent")
OPEN = ("new", "acknowledged", "in_progress")


def _node(folder: Path, database_url: str | None):
    from tests.factories import make_node_app, make_staff

    app = make_node_app(
        folder, WTF_CSRF_ENABLED=False, **({"DATABASE_URL": database_url} if database_url else {})
    )
    from node.database import get_db

    with get_db(app).session() as session:
        email = make_staff(session, "supervisor").email
        make_staff(session, "caseworker", "environment")
        session.commit()
    return app, email


def _fill(app, cases: int, seed: int = 7) -> None:
    """N cases written with plain SQL in batches, as a bulk import writes them."""
    from node.database import get_db

    rng = random.Random(seed)
    now = datetime.now(UTC)
    engine = get_db(app).engine
    with engine.begin() as connection:
        departments = connection.execute(sa.text("SELECT id FROM departments")).scalars().all()
        rows = []
        for n in range(cases):
            created = now - timedelta(minutes=rng.randrange(60 * 24 * 540))
            status = rng.choice(STATUSES)
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(6, 18)))
            rows.append(
                {
                    "tracking_code": f"BQ-{n:06d}",
                    "service_code": "noise-report",
                    "channel": rng.choice(("web", "app", "sms", "phone", "email")),
                    "status": status,
                    "priority": rng.choice(PRIORITIES),
                    "department_id": rng.choice(departments),
                    "description": words,
                    "address": f"{rng.choice(STREETS)} {rng.randrange(1, 200)}",
                    "lat": 44.49 + rng.uniform(-0.03, 0.03),
                    "long": 11.34 + rng.uniform(-0.03, 0.03),
                    "attributes": "{}",
                    "language": "it",
                    "due_at": created + timedelta(hours=72),
                    "created_at": created,
                    "updated_at": created,
                    "closed_at": None if status in OPEN else created + timedelta(hours=30),
                }
            )
            if len(rows) == 5000 or n == cases - 1:
                connection.execute(
                    sa.text(
                        "INSERT INTO cases (tracking_code, service_code, channel, status, "
                        "priority, department_id, description, address, lat, long, attributes, "
                        "language, due_at, created_at, updated_at, closed_at) VALUES "
                        "(:tracking_code, :service_code, :channel, :status, :priority, "
                        ":department_id, :description, :address, :lat, :long, :attributes, "
                        ":language, :due_at, :created_at, :updated_at, :closed_at)"
                    ).bindparams(
                        sa.bindparam("due_at", type_=sa.DateTime(timezone=True)),
                        sa.bindparam("created_at", type_=sa.DateTime(timezone=True)),
                        sa.bindparam("updated_at", type_=sa.DateTime(timezone=True)),
                        sa.bindparam("closed_at", type_=sa.DateTime(timezone=True)),
                    ),
                    rows,
                )
                rows = []
        if engine.dialect.name == "sqlite":
            connection.execute(sa.text("ANALYZE"))
        else:
            connection.execute(sa.text("ANALYZE cases"))


def _time(call, requests: int) -> list[float]:
    call()  # warm: imports, templates, caches
    timings = []
    for _ in range(requests):
        start = time.perf_counter()
        call()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def p95(timings: list[float]) -> float:
    """The 95th percentile of timings, in the same unit."""
    return statistics.quantiles(timings, n=20)[-1]


def run(
    cases: int = 100_000, requests: int = 40, database_url: str | None = None
) -> list[tuple[str, float | str]]:
    """p50 and p95 of three queue pages and of the plain indexed query of the default page."""
    from node.database import get_db

    with tempfile.TemporaryDirectory(prefix="carmen-bench-queue-") as tmp:
        app, email = _node(Path(tmp) / "node", database_url)
        try:
            _fill(app, cases)
            client = app.test_client()
            client.post("/office/login", data={"email": email, "password": _password()})
            pages = {
                "default queue (open, most urgent first)": "/office/",
                "full-text search": "/office/?q=lampione+spento",
                "filtered and sorted, page 3": (
                    "/office/?status=all&sort=newest&page=3&sla=breached"
                ),
            }

            def page(url: str):
                def call() -> None:
                    response = client.get(url)
                    assert response.status_code == 200, response.status_code

                return call

            engine = get_db(app).engine
            plain = sa.text(
                "SELECT id, tracking_code, service_code, status, priority, department_id, "
                "channel, due_at, assignee_id FROM cases WHERE status IN ('new', "
                "'acknowledged', 'in_progress') ORDER BY due_at, id LIMIT 25"
            )
            count = sa.text(
                "SELECT count(*) FROM cases WHERE status IN ('new', 'acknowledged', 'in_progress')"
            )

            def baseline() -> None:
                with engine.connect() as connection:
                    connection.execute(plain).all()
                    connection.execute(count).scalar()

            timings = {name: _time(page(url), requests) for name, url in pages.items()}
            base = _time(baseline, requests)
            dialect = engine.dialect.name
        finally:
            get_db(app).engine.dispose()
    figures: list[tuple[str, float | str]] = [("database", dialect), ("cases", float(cases))]
    for name, values in timings.items():
        figures += [
            (f"{name}: p50 ms", statistics.median(values)),
            (f"{name}: p95 ms (goal < 300)", p95(values)),
        ]
    default = next(iter(timings.values()))
    figures += [
        ("plain indexed query of the default page: p50 ms (baseline)", statistics.median(base)),
        ("plain indexed query of the default page: p95 ms", p95(base)),
        ("ratio default queue p95 / baseline p95", p95(default) / p95(base)),
    ]
    return figures


def _password() -> str:
    from tests.factories import PASSWORD

    return PASSWORD


def main() -> None:
    """Print the figures of one run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="cases in the node")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    parser.add_argument("--database-url", help="a PostgreSQL database to use (default: SQLite)")
    args = parser.parse_args()
    for name, value in run(args.cases, args.requests, args.database_url):
        print(f"{name}: {value:,.3f}" if isinstance(value, float) else f"{name}: {value}")


if __name__ == "__main__":
    main()
