"""Hub ingest: cells/s of the full ingest path against a raw bulk upsert; many nodes on loopback.

1. Ingest: signed snapshots pushed through the hub app in-process (signature, nonce, JSON,
   validation, revision check, cell upsert, one commit per snapshot), in cells (stored measure
   rows) per second.
2. Baseline, same run: the same rows written by a raw bulk upsert (SQLAlchemy core: delete the
   period's rows, one executemany insert, one commit per snapshot) into a fresh hub database.
   The ratio ingest / raw says what the protocol costs on top of the database (goal >= 0.5).
3. Loopback: N simulated nodes (default 1,000) each push one signed snapshot over HTTP to one
   hub served by waitress on 127.0.0.1, from a pool of concurrent clients; throughput and p95
   latency. Bounded by count and by --max-seconds.

Run alone: python -m bench.hub_ingest [--nodes 1000] [--snapshots 60] [--database-url URL]
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa
from waitress.server import create_server

from federation.hub import create_app
from federation.hub.aggregates.models import AggregateCell
from federation.hub.app import waitress_options
from federation.hub.database import get_db, utcnow
from federation.hub.migrate import upgrade
from federation.hub.nodes.models import Node, StoredSnapshot
from federation.protocol.client import SNAPSHOTS_PATH, push_snapshot, snapshot_body
from federation.protocol.measures import snapshot_rows
from federation.protocol.models import DURATION_BUCKETS, MetricsSnapshot
from federation.protocol.signing import generate_private_key, public_key_b64, sign_request
from federation.protocol.vocabulary import AgeBand, Channel

ROUND = 5  # snapshots per round of the interleaved ingest / raw measurement
SERVICES = [
    {"code": "noise", "template": "noise_report", "template_version": "1.2.0"},
    {"code": "bins", "template": "bulky_waste", "template_version": "0.3.0"},
    {"code": "visits", "template": "appointment_booking", "template_version": "2.0.0"},
]


def _split(rng: random.Random, count: int, parts: int) -> list[int]:
    cuts = sorted(rng.randint(0, count) for _ in range(parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, count], strict=True)]


def _measures(rng: random.Random) -> dict:
    """A service's exact month, keeping the relations the hub checks (histograms split their
    count, citizens at most their requests, ...)."""
    submitted = rng.randint(300, 900)
    acknowledged = rng.randint(submitted // 2, submitted)
    completed = rng.randint(acknowledged // 2, acknowledged)
    feedback = rng.randint(completed // 2, completed)
    return {
        "citizens": rng.randint(submitted // 2, submitted),
        "events": {
            "submitted": submitted,
            "acknowledged": acknowledged,
            "completed": completed,
            "rejected": rng.randint(0, submitted - completed),
            "feedback": feedback,
            "message_delivered": rng.randint(submitted, 2 * submitted),
        },
        "completed_within_sla": rng.randint(completed // 2, completed),
        "time_to_acknowledge": _split(rng, acknowledged, DURATION_BUCKETS),
        "time_to_complete": _split(rng, completed, DURATION_BUCKETS),
        "satisfaction": _split(rng, feedback, 5),
    }


def _sent(measures: dict, fraction: float, k: int = 10) -> dict:
    """A share of the measures (rounded down, so parts never exceed the whole), below k withheld."""
    if isinstance(measures, dict):
        return {name: _sent(value, fraction, k) for name, value in measures.items()}
    if isinstance(measures, list):
        return [_sent(value, fraction, k) for value in measures]
    value = int(measures * fraction)
    return value if value >= k else None


def make_snapshot(
    node: str, period: str, rng: random.Random, *, services: int, dimensions: bool
) -> MetricsSnapshot:
    """A realistic snapshot: per service a total, and (if dimensions) every channel and segment,
    split from the total."""
    cells = []
    for service in SERVICES[:services]:
        total = _measures(rng)
        cells.append({"service": service["code"], "measures": _sent(total, 1.0)})
        if dimensions:
            for dimension, members in (("channel", list(Channel)), ("segment", list(AgeBand))):
                for member in members:
                    cells.append(
                        {
                            "service": service["code"],
                            dimension: member.value,
                            "measures": _sent(total, 1 / len(members)),
                        }
                    )
    return MetricsSnapshot.model_validate(
        {
            "node": node,
            "period": period,
            "revision": 1,
            "k": 10,
            "services": SERVICES[:services],
            "cells": cells,
        }
    )


def _hub(folder: Path, database_url: str | None):
    folder.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{folder / 'hub.db'}"
    upgrade(url)
    return create_app(
        {
            "INSTANCE_PATH": folder,
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "EVALUATE_ON_INGEST": False,
        }
    )


def _add_nodes(app, count: int, prefix: str) -> list[tuple[str, object]]:
    """Register nodes straight in the database (enrollment is not what is measured)."""
    nodes = []
    with get_db(app).session() as session:
        for index in range(count):
            key = generate_private_key()
            slug = f"{prefix}-{index:05d}"
            session.add(
                Node(
                    slug=slug,
                    city=slug,
                    country="IT",
                    population=100_000,
                    languages=["it"],
                    channels=["web"],
                    context={},
                    population_shares=None,
                    public_key=public_key_b64(key),
                    schema_version=1,
                    enrolled_at=utcnow(),
                    pending_periods=[],
                )
            )
            nodes.append((slug, key))
        session.commit()
    return nodes


def _periods(count: int) -> list[str]:
    return [f"{2020 + i // 12}-{i % 12 + 1:02d}" for i in range(count)]


def measure_ingest(folder: Path, snapshots: int, database_url: str | None) -> dict[str, float]:
    """Cells/s through the full ingest path, and through a raw bulk upsert of the same rows."""
    rng = random.Random(7)
    app = _hub(folder / "ingest", database_url)
    nodes = _add_nodes(app, 4, "ingest")
    work = []
    for index, period in enumerate(_periods(snapshots)):
        slug, key = nodes[index % len(nodes)]
        snapshot = make_snapshot(slug, period, rng, services=3, dimensions=True)
        work.append((slug, key, snapshot, snapshot_body(snapshot)))
    cells = sum(len(snapshot_rows(snapshot)) for _, _, snapshot, _ in work)

    raw_app = _hub(folder / "raw", None if database_url is None else _fresh(database_url))
    raw_nodes = dict(_add_nodes(raw_app, 4, "ingest"))
    engine = get_db(raw_app).engine
    with engine.connect() as conn:
        node_ids = dict(conn.execute(sa.select(Node.slug, Node.id)).all())
    assert set(raw_nodes) == set(node_ids)
    # Rows are prepared before the clock starts: the baseline is the database work alone.
    prepared = []
    for snapshot_id, (slug, _, snapshot, _) in enumerate(work, start=1):
        base = {"snapshot_id": snapshot_id, "node_id": node_ids[slug], "period": snapshot.period}
        prepared.append((snapshot_id, base, snapshot, snapshot_rows(snapshot, base)))

    client = app.test_client()
    ingest_seconds = raw_seconds = 0.0
    # Interleave the two in small rounds, so that a busy machine slows both alike.
    for first in range(0, len(work), ROUND):
        started = time.perf_counter()
        for slug, key, _, body in work[first : first + ROUND]:
            headers = sign_request(
                private_key=key, node=slug, method="POST", path=SNAPSHOTS_PATH, body=body
            )
            response = client.post(SNAPSHOTS_PATH, data=body, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"ingest refused a benchmark snapshot: {response.json}")
        ingest_seconds += time.perf_counter() - started
        started = time.perf_counter()
        for snapshot_id, base, snapshot, rows in prepared[first : first + ROUND]:
            _raw_upsert(engine, snapshot_id, base, snapshot, rows)
        raw_seconds += time.perf_counter() - started
    get_db(app).engine.dispose()
    engine.dispose()
    return {
        "cells": cells,
        "ingest_cells_per_s": cells / ingest_seconds,
        "raw_cells_per_s": cells / raw_seconds,
        "snapshots_per_s": len(work) / ingest_seconds,
    }


def _raw_upsert(engine: sa.Engine, snapshot_id: int, base: dict, snapshot, rows: list) -> None:
    """The baseline: the snapshot row, delete the period's cells, insert them; one commit."""
    snapshots_table = StoredSnapshot.__table__
    cells_table = AggregateCell.__table__
    with engine.begin() as conn:
        conn.execute(
            snapshots_table.insert(),
            {
                "id": snapshot_id,
                "node_id": base["node_id"],
                "period": base["period"],
                "revision": snapshot.revision,
                "content_digest": "-",
                "k": snapshot.k,
                "dp_epsilon": None,
                "received_at": utcnow(),
                "updated_at": utcnow(),
            },
        )
        conn.execute(cells_table.delete().where(cells_table.c.snapshot_id == snapshot_id))
        conn.execute(cells_table.insert(), rows)


def _fresh(database_url: str) -> str:
    """A second, empty PostgreSQL database next to the given one, for the raw baseline."""
    url = sa.make_url(database_url)
    name = f"{url.database}_raw_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def measure_loopback(
    folder: Path, nodes: int, concurrency: int, max_seconds: float, database_url: str | None
) -> dict[str, float]:
    """N nodes push one signed snapshot each over HTTP to one hub on loopback."""
    rng = random.Random(11)
    app = _hub(folder / "loopback", None if database_url is None else _fresh(database_url))
    identities = _add_nodes(app, nodes, "city")
    snapshots = [
        (key, make_snapshot(slug, "2025-06", rng, services=2, dimensions=True))
        for slug, key in identities
    ]
    server = create_server(
        app, host="127.0.0.1", port=0, threads=max(4, concurrency), **waitress_options(app)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.effective_port}"
    deadline = time.perf_counter() + max_seconds
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    local = threading.local()

    def push(item) -> None:
        nonlocal failures
        if time.perf_counter() > deadline:
            return
        key, snapshot = item
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=60)
        sent = time.perf_counter()
        result = push_snapshot(hub_url=url, snapshot=snapshot, private_key=key, client=local.client)
        elapsed = time.perf_counter() - sent
        with lock:
            latencies.append(elapsed)
            failures += 0 if result.acknowledged else 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(push, snapshots))
    wall = time.perf_counter() - started
    server.close()
    thread.join(timeout=5)
    get_db(app).engine.dispose()
    cells_each = len(snapshot_rows(snapshots[0][1]))
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)] if latencies else float("nan")
    return {
        "pushed": len(latencies),
        "failed": failures,
        "requests_per_s": len(latencies) / wall,
        "cells_per_s": len(latencies) * cells_each / wall,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p95_ms": p95 * 1000,
    }


def run(
    *,
    nodes: int = 1000,
    snapshots: int = 60,
    concurrency: int = 16,
    max_seconds: float = 120.0,
    database_url: str | None = None,
) -> list[tuple[str, float | str]]:
    """Figures of the three measurements (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="carmen-bench-hub-") as tmp:
        folder = Path(tmp)
        ingest = measure_ingest(folder, snapshots, database_url)
        loop = measure_loopback(folder, nodes, concurrency, max_seconds, database_url)
    return [
        ("database", "PostgreSQL" if database_url else "SQLite"),
        ("ingest cells/s (signed, validated, upserted)", ingest["ingest_cells_per_s"]),
        ("raw bulk upsert cells/s (same rows, core insert)", ingest["raw_cells_per_s"]),
        (
            "ratio ingest / raw (goal >= 0.5)",
            ingest["ingest_cells_per_s"] / ingest["raw_cells_per_s"],
        ),
        ("ingest snapshots/s", ingest["snapshots_per_s"]),
        (f"loopback nodes pushed (of {nodes})", loop["pushed"]),
        ("loopback refused or failed", loop["failed"]),
        ("loopback requests/s", loop["requests_per_s"]),
        ("loopback cells/s", loop["cells_per_s"]),
        ("loopback p50 latency (ms)", loop["p50_ms"]),
        ("loopback p95 latency (ms)", loop["p95_ms"]),
    ]


def main(argv: list[str]) -> int:
    """Parse options, run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000, help="simulated nodes on loopback")
    parser.add_argument("--snapshots", type=int, default=60, help="snapshots for the ratio")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=120.0,
        help="stop the loopback run after this many seconds",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL URL (a database the bench may create siblings of)",
    )
    args = parser.parse_args(argv)
    figures = run(
        nodes=args.nodes,
        snapshots=args.snapshots,
        concurrency=args.concurrency,
        max_seconds=args.max_seconds,
        database_url=args.database_url,
    )
    for name, value in figures:
        print(f"{name:52} {value if isinstance(value, str) else f'{value:,.2f}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
