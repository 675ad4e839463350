"""Plain SQLAlchemy 2.0 for a Flask app: what typed model bases share, one engine per app, one
session per request, and callbacks that run only once a transaction has committed."""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from runtime.private_files import create_private_sqlite

EXTENSION = "carmen.db"
AFTER_COMMIT = "carmen.after_commit"
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
log = logging.getLogger("carmen.database")


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


TYPE_ANNOTATION_MAP: dict[Any, Any] = {
    datetime: UTCDateTime(),
    dict[str, Any]: sa.JSON(),
    list[str]: sa.JSON(),
}


def model_metadata() -> sa.MetaData:
    """New metadata for one part's tables, with constraint names that migrations can refer to.

    A part's model base uses it with TYPE_ANNOTATION_MAP (aware datetimes, JSON dicts and lists)::

        class Base(DeclarativeBase):
            type_annotation_map = TYPE_ANNOTATION_MAP
            metadata = model_metadata()
    """
    return sa.MetaData(naming_convention=NAMING_CONVENTION)


def enum_type(enum_class: type, length: int) -> sa.Enum:
    """A portable enum column that stores the members' values, with room for new members."""
    return sa.Enum(
        enum_class,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def make_engine(url: str, **options: Any) -> sa.Engine:
    """Create an engine; SQLite gets an owner-only file, foreign keys, WAL and a busy timeout,
    so that the web process and the workers can share the file and nobody else can read it,
    and secure_delete, so that what a row held is overwritten on disk when it changes."""
    if url.startswith("sqlite"):
        create_private_sqlite(url)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, **options)


def empty_journal(engine: sa.Engine) -> None:
    """On SQLite, write the WAL into the database file and truncate it, so that pages from
    before a change (an erasure) leave the disk; nothing to do on other databases."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def after_commit(db_session: Session, callback: Callable[[], Any]) -> None:
    """Call `callback` once the session's current transaction commits; never if it rolls back.

    A failing callback is logged and does not undo the commit, nor stop the other callbacks.
    """
    if db_session.get_transaction() is None:
        db_session.begin()
    db_session.info.setdefault(AFTER_COMMIT, []).append(callback)


def _run_after_commit(db_session: Session) -> None:
    if db_session.in_nested_transaction():  # a savepoint released: the outer may still roll back
        return
    for callback in db_session.info.pop(AFTER_COMMIT, []):
        try:
            callback()
        except Exception:  # the transaction is committed; what follows it must not undo it
            log.exception("an action after the commit failed; the change itself is kept")


def _forget_after_commit(db_session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended without a commit
        db_session.info.pop(AFTER_COMMIT, None)


@contextmanager
def savepoint(db_session: Session) -> Iterator[None]:
    """Run the block in a savepoint: an error inside undoes the block only, and is raised.

    The way to meet a unique conflict with a concurrent transaction: try the insert here, and on
    IntegrityError read back the row the other transaction wrote. pysqlite opens its transaction
    only at the first write, so a SAVEPOINT issued before any write would become the transaction
    itself and its release would commit it; on SQLite a transaction is begun first, IMMEDIATE so
    that it holds the write lock and what it reads inside the block stays true until it commits.
    """
    connection = db_session.connection()
    if connection.dialect.name == "sqlite":
        dbapi_connection = connection.connection.dbapi_connection
        if not dbapi_connection.in_transaction:
            dbapi_connection.execute("BEGIN IMMEDIATE")
    with db_session.begin_nested():
        yield


class Database:
    """An engine and its session factory; sessions run `after_commit` callbacks."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_options)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        sa.event.listen(self.sessions, "after_commit", _run_after_commit)
        sa.event.listen(self.sessions, "after_transaction_end", _forget_after_commit)
        # SQLite has one writer at a time: queueing writers here is cheaper and fairer than
        # letting them spin on SQLite's busy handler. PostgreSQL needs no such lock.
        self.write_lock: AbstractContextManager = (
            threading.Lock() if url.startswith("sqlite") else nullcontext()
        )

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


def init_app(app: Flask, **engine_options: Any) -> None:
    """Attach the database named by DATABASE_URL to the app, and end each request's session."""
    app.extensions[EXTENSION] = Database(app.config["DATABASE_URL"], **engine_options)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        db_session = g.pop("db_session", None)
        if db_session is not None:
            db_session.rollback()  # anything a view did not commit is discarded, never half-kept
            db_session.close()


def get_db(app: Flask | None = None) -> Database:
    """The database of the given app, or of the current one."""
    return (app or current_app).extensions[EXTENSION]


def db_session() -> Session:
    """The current request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = get_db().sessions()
    return g.db_session
