"""Open311 POST requests/s through a real WSGI server, against a bare one-insert endpoint.

Both endpoints live in the same node app, on the same SQLite database, behind the same waitress
server on loopback, hit by the same pool of httpx clients sending the same form body; the only
difference is the work behind the URL. The bare endpoint parses the form and inserts one row;
the Open311 endpoint authenticates the key, checks the service, validates the attributes, routes
the case, writes it and its two archive events. Goal: ratio >= 0.5.

Run alone with `python -m bench.intake [--requests N] [--seconds S] [--clients C]`.
"""

import argparse
import logging
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa
from flask import Flask, request

from carmen.serving import BackgroundServer
from node.app import create_app
from node.database import db_session, get_db
from node.extensions import csrf
from node.intake import clients
from node.intake.open311.views import one_writer
from node.migrate import upgrade
from node.services.service import load_catalogue

EXAMPLES = Path(__file__).resolve().parents[1] / "node" / "services" / "examples"
_bare_table = sa.Table(
    "bench_bare_inserts",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
)


def _bare_insert() -> tuple[str, int]:
    """The baseline: parse the same form and insert one row, committed."""
    session = db_session()
    # The same write discipline as the Open311 view, so that the ratio measures the work alone.
    with one_writer(session):
        session.execute(sa.insert(_bare_table).values(description=request.form["description"]))
        session.commit()
    return "ok", 200


def _node(folder: Path) -> tuple[Flask, str]:
    import shutil

    shutil.copytree(EXAMPLES, folder / "services")
    app = create_app(
        {
            "INSTANCE_PATH": folder,
            "SECRET_KEY": "bench",
            "CITY": "Bologna",
            "COUNTRY": "IT",
            "RATELIMIT_ENABLED": False,  # one client sends everything: time the work, not limits
        }
    )
    upgrade(app.config["DATABASE_URL"])
    database = get_db(app)
    _bare_table.create(database.engine)
    with database.session() as session:
        report = load_catalogue(db_session=session, services_dir=folder / "services")
        if report.errors:
            raise RuntimeError(f"example services did not load: {report.errors}")
        _, key = clients.create_client(db_session=session, name="bench app")
        session.commit()
    app.add_url_rule("/bench/bare", "bench_bare", csrf.exempt(_bare_insert), methods=["POST"])
    return app, key


def _hammer(url: str, body: dict[str, str], *, count: int, seconds: float, pool: int) -> float:
    """Send up to `count` POSTs (stopping after `seconds`) from `pool` clients; requests/s."""
    local = threading.local()
    deadline = time.perf_counter() + seconds
    made: list[httpx.Client] = []
    lock = threading.Lock()

    def one(_: int) -> bool:
        if time.perf_counter() > deadline:
            return False
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=30)
            with lock:
                made.append(local.client)
        response = local.client.post(url, data=body)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:200]}")
        return True

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=pool) as executor:
        done = sum(executor.map(one, range(count)))
    elapsed = time.perf_counter() - started
    for client in made:
        client.close()
    return done / elapsed


def run(
    requests_per_endpoint: int = 600, seconds: float = 3.0, pool: int = 8, rounds: int = 4
) -> list[tuple[str, float | str]]:
    """Requests/s of Open311 POST and of the bare insert, each bounded in count and time."""
    # waitress warns on every queued task once all its threads are busy, which is the point here
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="carmen-bench-intake-") as tmp:
        app, key = _node(Path(tmp))
        server = BackgroundServer(app, host="127.0.0.1", threads=pool)
        base = f"http://127.0.0.1:{server.effective_port}"
        body = {
            "api_key": key,
            "service_code": "noise-report",
            "attribute[source]": "traffic",
            "attribute[night]": "yes",
            "description": "Lorries idling under the windows every night from four.",
            "lat": "44.4949",
            "long": "11.3426",
        }
        urls = {"open311": f"{base}/open311/v2/requests.json", "bare": f"{base}/bench/bare"}
        try:
            # Warm both paths (imports, first connections, SQLite page cache) before timing.
            for url in urls.values():
                _hammer(url, body, count=4 * pool, seconds=seconds, pool=pool)
            rates: dict[str, list[float]] = {"open311": [], "bare": []}
            count = max(1, requests_per_endpoint // rounds)
            # Short rounds in alternating order, compared pairwise: a machine whose load changes
            # during the run (other jobs, heat, WAL growth) moves both figures of a pair alike.
            for number in range(rounds):
                for name in ("bare", "open311") if number % 2 == 0 else ("open311", "bare"):
                    budget = seconds / rounds
                    rates[name].append(
                        _hammer(urls[name], body, count=count, seconds=budget, pool=pool)
                    )
            with get_db(app).session() as session:
                cases = session.scalar(sa.text("SELECT count(*) FROM cases"))
        finally:
            server.close()
            get_db(app).engine.dispose()
    ratios = [o / b for o, b in zip(rates["open311"], rates["bare"], strict=True)]
    return [
        ("Open311 POST requests/s", statistics.mean(rates["open311"])),
        ("bare one-insert POST requests/s (baseline)", statistics.mean(rates["bare"])),
        ("ratio Open311 / baseline, median of rounds (goal >= 0.5)", statistics.median(ratios)),
        ("lowest round ratio", min(ratios)),
        ("cases written", float(cases)),
        ("concurrent clients", float(pool)),
    ]


def main() -> None:
    """Print the figures of one run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="POSTs per endpoint at most")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per endpoint at most")
    parser.add_argument("--clients", type=int, default=8, help="concurrent httpx clients")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    args = parser.parse_args()
    for name, value in run(args.requests, args.seconds, args.clients, args.rounds):
        print(f"{name}: {value:,.3f}" if isinstance(value, float) else f"{name}: {value}")


if __name__ == "__main__":
    main()
