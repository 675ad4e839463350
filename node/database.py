"""The node's database: its model base and clock, and the shared engine and session helpers."""

from datetime import UTC, datetime

from sqlalchemy.orm import DeclarativeBase

from runtime.database import (
    TYPE_ANNOTATION_MAP,
    Database,
    UTCDateTime,
    after_commit,
    db_session,
    empty_journal,
    enum_type,
    get_db,
    make_engine,
    model_metadata,
    savepoint,
)

__all__ = [
    "CLOCK",
    "Base",
    "Database",
    "UTCDateTime",
    "after_commit",
    "db_session",
    "empty_journal",
    "enum_type",
    "get_db",
    "make_engine",
    "savepoint",
    "utcnow",
]


class Clock:
    """The node's sense of now: the real clock, unless a simulation has set the time.

    Only the citizen simulator sets it, to play months of activity through the real channels
    in minutes; everything that stamps a time asks `utcnow()`, so it all follows.
    """

    def __init__(self) -> None:
        self._simulated: datetime | None = None

    def now(self) -> datetime:
        """The simulated time when one is set, else the real time."""
        return self._simulated or datetime.now(UTC)

    def set(self, moment: datetime | None) -> None:
        """Set the simulated time (aware), or go back to the real clock with None."""
        if moment is not None and moment.tzinfo is None:
            raise ValueError("the simulated time must be timezone-aware")
        self._simulated = moment


CLOCK = Clock()


def utcnow() -> datetime:
    """The current time, aware, in UTC (see Clock)."""
    return CLOCK.now()


class Base(DeclarativeBase):
    """Base of every node model; its metadata holds the node's tables only."""

    type_annotation_map = TYPE_ANNOTATION_MAP
    metadata = model_metadata()
