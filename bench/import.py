"""Importing a legacy 311 export of 1,000,000 rows, against raw executemany of the same rows.

python -m bench.import [ROWS]

The import is measured through the bulk path (`via="bulk"`, what `carmen node import-requests`
uses by default): reading the CSV, checking every row, batches handed to the driver's
executemany with a commit each. The baseline copies exactly the rows the import wrote (cases,
events, imported ids) into a second migrated database with plain sqlite3 `executemany`, timing
the inserts only.
"""

import csv
import random
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench import _alone
from node.database import Database
from node.intake import imports
from node.migrate import upgrade
from node.services.service import load_catalogue
from service_templates.engine import PACKAGE_TEMPLATES, city_answers, new_service

MAPPING = Path(imports.__file__).parent / "import_examples" / "nyc311.toml"
HEADER = [
    "Unique Key",
    "Created Date",
    "Closed Date",
    "Agency",
    "Complaint Type",
    "Descriptor",
    "Location Type",
    "Incident Address",
    "Status",
    "Due Date",
    "Resolution Description",
    "Open Data Channel Type",
    "Latitude",
    "Longitude",
]
# Mostly mapped types, and a few that go to the mapping's catch-all service.
TYPES = ["Noise - Residential", "Noise - Street/Sidewalk", "Noise - Commercial", "Noise"] * 4
TYPES += ["Illegal Parking", "HEAT/HOT WATER"]
DESCRIPTORS = ["Loud Music/Party", "Banging/Pounding", "Construction Before/After Hours"]
AGENCIES = ["NYPD", "DEP", "DOB"]
CHANNELS = ["PHONE", "ONLINE", "MOBILE", "UNKNOWN"]
NOTES = [
    "The Police Department responded to the complaint and took action to fix the condition.",
    "The Police Department responded and upon arrival those responsible were gone.",
    "The Department of Environmental Protection investigated and found no violation.",
]
TABLES = ("cases", "events", "imported_requests")
CHUNK = 50_000


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """Write an NYC-311-style export: most requests closed, some open, a few ISO dates, most
    with a due date, the closed ones with a resolution."""
    rng = random.Random(seed)
    start = datetime(2023, 1, 1)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            opened = start + timedelta(seconds=rng.randrange(365 * 24 * 3600))
            closed = opened + timedelta(minutes=rng.randrange(10, 7 * 24 * 60))
            is_closed = rng.random() < 0.8
            stamp = "%m/%d/%Y %I:%M:%S %p" if rng.random() < 0.95 else "%Y-%m-%dT%H:%M:%S.000"
            located = rng.random() < 0.9
            writer.writerow(
                [
                    50_000_000 + n,
                    opened.strftime(stamp),
                    closed.strftime(stamp) if is_closed else "",
                    rng.choice(AGENCIES),
                    rng.choice(TYPES),
                    rng.choice(DESCRIPTORS),
                    "Residential Building/House",
                    f"{rng.randrange(1, 999)} WEST {rng.randrange(1, 220)} STREET",
                    "Closed" if is_closed else rng.choice(["Open", "In Progress"]),
                    (opened + timedelta(hours=8)).strftime(stamp) if rng.random() < 0.7 else "",
                    rng.choice(NOTES) if is_closed else "",
                    rng.choice(CHANNELS),
                    f"{40.5 + rng.random() * 0.4:.6f}" if located else "",
                    f"{-74.2 + rng.random() * 0.5:.6f}" if located else "",
                ]
            )


def _migrated(path: Path, services: Path) -> Database:
    url = f"sqlite:///{path}"
    upgrade(url)
    database = Database(url)
    with database.session() as db_session:
        load_catalogue(db_session=db_session, services_dir=services)
        db_session.commit()
    return database


def _services(folder: Path) -> Path:
    """The issue-report service the mapping names, generated from its shipped template."""
    new_service(
        root=PACKAGE_TEMPLATES,
        template="issue-report",
        services_dir=folder,
        city=city_answers(city="New York", country="US", languages=["en"]),
        node_channels=["web", "app", "sms", "email", "phone", "counter"],
        assignments={},
    )
    return folder


def raw_copy(source: Path, target: Path) -> tuple[float, int]:
    """Insert every row the import wrote into the target with executemany; (seconds, rows)."""
    reader, writer = sqlite3.connect(source), sqlite3.connect(target)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA synchronous=NORMAL")
    # The departments the import created, so the cases' foreign keys hold as they did there.
    writer.execute("DELETE FROM departments")
    writer.executemany(
        "INSERT INTO departments VALUES (?, ?, ?)", reader.execute("SELECT * FROM departments")
    )
    writer.commit()
    seconds, total = 0.0, 0
    for table in TABLES:
        cursor = reader.execute(f"SELECT * FROM {table}")
        marks = ", ".join("?" * len(cursor.description))
        while chunk := cursor.fetchmany(CHUNK):
            started = time.perf_counter()
            writer.executemany(f"INSERT INTO {table} VALUES ({marks})", chunk)
            writer.commit()
            seconds += time.perf_counter() - started
            total += len(chunk) if table == "cases" else 0
    reader.close()
    writer.close()
    return seconds, total


def run(rows: int = 1_000_000) -> list[tuple[str, float | str]]:
    """Import the generated export, then copy its rows raw, and compare the rates."""
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "export.csv"
        generate(export, rows)
        services = _services(Path(folder) / "services")
        database = _migrated(Path(folder) / "import.db", services)
        with database.session() as db_session:
            started = time.perf_counter()
            report = imports.import_requests(
                db_session=db_session,
                csv_path=export,
                mapping=imports.load_mapping(MAPPING),
                tracking_prefix="NY",
                batch_size=5000,
                via="bulk",
            )
            import_seconds = time.perf_counter() - started
        database.engine.dispose()
        baseline = _migrated(Path(folder) / "raw.db", services)
        baseline.engine.dispose()
        raw_seconds, copied = raw_copy(Path(folder) / "import.db", Path(folder) / "raw.db")
    # A handful of generated times fall in New York's spring-forward gap and close "before"
    # they open: the import quarantines them, as it would a real export's.
    assert report.imported == copied and report.imported + report.quarantined == rows, report
    import_rate, raw_rate = rows / import_seconds, copied / raw_seconds
    return [
        ("rows", rows),
        ("rows quarantined", report.quarantined),
        ("path measured", "bulk (driver executemany per batch)"),
        ("encoding", f"{report.encoding} ({report.encoding_how})"),
        ("import (s)", import_seconds),
        ("raw executemany of the same rows (s)", raw_seconds),
        ("import rows/s", import_rate),
        ("raw executemany rows/s", raw_rate),
        ("ratio import / raw (goal >= 0.25)", import_rate / raw_rate),
    ]


if __name__ == "__main__":
    _alone.run_alone(run, __doc__, "bench.import", count=("rows", 1_000_000, "rows to import"))
