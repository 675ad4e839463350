"""A savepoint undoes only its block, and commits nothing by itself, on SQLite as on PostgreSQL:
the way a unique conflict with a concurrent transaction is met and the other's row read back."""

import pytest
import sqlalchemy as sa

from runtime.database import Database, savepoint


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path):
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'savepoint.db'}"
    database = Database(url)
    with database.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE phones (number VARCHAR(20) UNIQUE)"))
        connection.execute(sa.text("INSERT INTO phones VALUES ('+390001')"))
    yield database
    database.engine.dispose()


def numbers(database: Database) -> list[str]:
    with database.engine.connect() as connection:
        return sorted(connection.execute(sa.text("SELECT number FROM phones")).scalars())


def test_a_savepoint_opened_first_still_rolls_back_with_its_transaction(database):
    # pysqlite begins its transaction at the first write: a bare SAVEPOINT would have become
    # the transaction, and its release would have committed the row.
    with database.session() as session:
        with savepoint(session):
            session.execute(sa.text("INSERT INTO phones VALUES ('+390002')"))
        session.rollback()
    assert numbers(database) == ["+390001"]


def test_a_conflict_inside_undoes_the_block_only_and_the_transaction_goes_on(database):
    with database.session() as session:
        session.execute(sa.text("INSERT INTO phones VALUES ('+390003')"))
        with pytest.raises(sa.exc.IntegrityError), savepoint(session):
            session.execute(sa.text("INSERT INTO phones VALUES ('+390004')"))
            session.execute(sa.text("INSERT INTO phones VALUES ('+390001')"))
        session.execute(sa.text("INSERT INTO phones VALUES ('+390005')"))
        session.commit()
    assert numbers(database) == ["+390001", "+390003", "+390005"]
