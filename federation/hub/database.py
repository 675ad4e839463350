"""The hub's database: its model base, and the shared engine and session helpers."""

from datetime import UTC, datetime

from sqlalchemy.orm import DeclarativeBase

from runtime.database import (
    TYPE_ANNOTATION_MAP,
    Database,
    UTCDateTime,
    db_session,
    get_db,
    model_metadata,
)

__all__ = ["Base", "Database", "UTCDateTime", "db_session", "get_db", "utcnow"]


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base of every hub model; its metadata holds the hub's tables only."""

    type_annotation_map = TYPE_ANNOTATION_MAP
    metadata = model_metadata()
