"""Snapshot building from 1,000,000 archive events, against a raw SQL GROUP BY of the same events.

python -m bench.snapshot [EVENTS]
"""

import random
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench import _alone
from node.database import Database
from node.migrate import upgrade
from node.services.service import load_catalogue
from node.sync.service import build_snapshots

EXAMPLES = Path(__file__).resolve().parents[1] / "node" / "services" / "examples"
CHANNELS = ["web", "app", "sms", "email", "phone"]
BANDS = ["16-24", "25-54", "55-74", "75+"]
# The baseline: the same events counted by the dimensions of a snapshot's cells
# (month, service, channel, age band, event kind) in one plain GROUP BY.
RAW_GROUP_BY = """
    SELECT strftime('%Y-%m', e.at) AS month, e.service_code, c.channel,
           coalesce(s.value, 'unknown') AS band, e.kind, count(*)
    FROM events e JOIN cases c ON c.id = e.case_id
    LEFT JOIN citizen_segments s ON s.citizen_id = c.citizen_id AND s.kind = 'age_band'
    GROUP BY month, e.service_code, c.channel, band, e.kind
"""


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def generate(path: Path, events: int, seed: int = 1) -> list[str]:
    """Fill a migrated node database with cases and their events; returns the months used."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1)
    db = sqlite3.connect(path)
    db.execute("INSERT INTO departments (id, code, name) VALUES (100, 'bench', 'Bench')")
    citizens = max(events // 20, 1)
    db.executemany(
        "INSERT INTO citizens (id, preferred_channel, language, consent_contact, "
        "consent_profiling, sms_opt_out, created_at, updated_at) "
        "VALUES (?, 'web', 'en', 1, 0, 0, ?, ?)",
        [(i, _stamp(start), _stamp(start)) for i in range(1, citizens + 1)],
    )
    db.executemany(
        "INSERT INTO citizen_segments (citizen_id, kind, value, assigned_at) "
        "VALUES (?, 'age_band', ?, '2026-01-01 00:00:00.000000')",
        [(i, rng.choice(BANDS)) for i in range(1, citizens + 1)],
    )
    case_rows, event_rows = [], []
    case_id = 0
    while len(event_rows) < events:
        case_id += 1
        created = start + timedelta(minutes=rng.randrange(365 * 24 * 60))
        due = created + timedelta(hours=72)
        case_rows.append(
            (
                case_id,
                f"BE-{case_id:08d}",
                "noise-report",
                rng.choice(CHANNELS),
                "resolved",
                "normal",
                100,
                rng.randint(1, citizens),
                "",
                "{}",
                "en",
                _stamp(due),
                _stamp(created),
                _stamp(created),
            )
        )
        at = created
        for kind in ("submitted", "routed", "acknowledged", "resolved", "feedback"):
            data = f'{{"score": {rng.randint(1, 5)}}}' if kind == "feedback" else "{}"
            event_rows.append((_stamp(at), kind, case_id, "noise-report", "web", "system", data))
            at += timedelta(hours=rng.expovariate(1 / 20))
    db.executemany(
        "INSERT INTO cases (id, tracking_code, service_code, channel, status, priority, "
        "department_id, citizen_id, description, attributes, language, due_at, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        case_rows,
    )
    db.executemany(
        "INSERT INTO events (at, kind, case_id, service_code, channel, actor_kind, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        event_rows,
    )
    db.commit()
    months = [
        row[0] for row in db.execute("SELECT DISTINCT strftime('%Y-%m', at) FROM events ORDER BY 1")
    ]
    db.close()
    return months


def run(events: int = 1_000_000) -> list[tuple[str, float | str]]:
    """Build every month's snapshot and time it against the raw GROUP BY."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "node.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        database = Database(url)
        with database.session() as db_session:
            load_catalogue(db_session=db_session, services_dir=EXAMPLES)
            db_session.commit()
        months = generate(path, events)
        raw = sqlite3.connect(path)
        started = time.perf_counter()
        raw.execute(RAW_GROUP_BY).fetchall()
        raw_seconds = time.perf_counter() - started
        raw.close()
        with database.session() as db_session:
            started = time.perf_counter()
            snapshots = build_snapshots(
                db_session=db_session, node_slug="bench", periods=months, k=10
            )
            build_seconds = time.perf_counter() - started
        database.engine.dispose()
    return [
        ("events", events),
        ("months", len(months)),
        ("cells sent", sum(len(s.cells) for s in snapshots.values())),
        ("snapshot build (s)", build_seconds),
        ("raw GROUP BY (s)", raw_seconds),
        ("ratio build / raw (goal <= 2.0)", build_seconds / raw_seconds),
    ]


if __name__ == "__main__":
    _alone.run_alone(run, __doc__, "bench.snapshot", count=("events", 1_000_000, "archive events"))
