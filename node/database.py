"""The node's database: typed SQLAlchemy 2.0 base, one engine per app, one session per request."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from node.private_files import create_private_sqlite

EXTENSION = "carmen.node.db"


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timestamps stored as naive UTC and read back as aware UTC, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


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
    """Base of every node model."""

    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: sa.JSON(), list[str]: sa.JSON()}
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def make_engine(url: str) -> sa.Engine:
    """Create an engine; SQLite gets foreign keys and WAL so the portal and workers can share it."""
    if url.startswith("sqlite"):
        create_private_sqlite(url)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for a command or a task: committed by the caller, rolled back on error."""
        db_session = self.sessions()
        try:
            yield db_session
        except BaseException:
            db_session.rollback()
            raise
        finally:
            db_session.close()


def init_app(app: Flask) -> None:
    """Attach the database to the app and close the request's session after each request."""
    app.extensions[EXTENSION] = Database(app.config["DATABASE_URL"])

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        db_session = g.pop("db_session", None)
        if db_session is not None:
            db_session.rollback()  # anything not committed by a view is discarded, never half-kept
            db_session.close()


def get_db(app: Flask | None = None) -> Database:
    """The database of the given app, or of the current one."""
    return (app or current_app).extensions[EXTENSION]


def db_session() -> Session:
    """The current request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = get_db().sessions()
    return g.db_session


def enum_type(enum_class: type, length: int) -> sa.Enum:
    """A portable enum column that stores the members' values, with room for new members."""
    return sa.Enum(
        enum_class,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
