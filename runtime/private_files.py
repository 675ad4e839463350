"""Files only their owner may read: the database file, the settings holding secrets, keys."""

import contextlib
import os
from pathlib import Path

import sqlalchemy as sa

OWNER_ONLY = 0o600


def write_private(path: Path, data: bytes) -> None:
    """Write a file that only its owner can read, from its first byte on."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_ONLY)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, OWNER_ONLY)  # a file that existed before keeps its mode through O_CREAT


def create_private_sqlite(url: str) -> None:
    """Create the file of a SQLite URL empty and owner-only, unless it exists: SQLite would
    create it (and its -wal and -shm files, which copy its mode) world-readable."""
    database = sa.make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY))
