"""The node on a real PostgreSQL server: migrations from empty, a case's life, the archive."""

import pytest
import sqlalchemy as sa

from node.app import create_app
from node.cases import service as cases
from node.cases.models import Event, EventKind
from node.cases.schemas import Actor
from node.database import get_db
from node.migrate import upgrade
from node.profiles import service as profiles
from tests.factories import load_services, make_case, make_citizen, make_staff

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(postgres_url, tmp_path):
    app = create_app(
        {
            "INSTANCE_PATH": tmp_path,
            "SECRET_KEY": "test",
            "DATABASE_URL": postgres_url,
            "CITY": "Bologna",
        }
    )
    upgrade(postgres_url)
    yield app
    get_db(app).engine.dispose()


def test_migrations_build_the_schema_on_an_empty_postgres_database(pg_app):
    tables = set(sa.inspect(get_db(pg_app).engine).get_table_names())
    assert {"cases", "events", "citizens", "services", "staff_users", "alembic_version"} <= tables


def test_a_case_lives_its_whole_life_on_postgres_and_the_archive_answers(pg_app, tmp_path):
    with get_db(pg_app).session() as db_session:
        load_services(db_session, tmp_path)
        citizen = make_citizen(db_session)
        worker = make_staff(db_session)
        case = make_case(db_session, citizen=citizen, channel="phone")
        for action in ("acknowledge", "start"):
            cases.move(
                db_session=db_session, case=case, action=action, actor=Actor.of_staff(worker)
            )
        cases.move(
            db_session=db_session,
            case=case,
            action="resolve",
            actor=Actor.of_staff(worker),
            reply="Fixed",
        )
        db_session.commit()
        history = cases.citizen_history(db_session=db_session, citizen_id=citizen.id)
        assert [e.kind for e in history][-2:] == [EventKind.RESOLVED, EventKind.REPLY_SENT]
        assert history[1].channel == "phone"

        profiles.erase_citizen(db_session=db_session, citizen_id=citizen.id, actor=Actor.system())
        db_session.commit()
        assert cases.citizen_history(db_session=db_session, citizen_id=citizen.id)[-1].kind is (
            EventKind.CITIZEN_ERASED
        )
        assert case.citizen_id is None


def test_postgres_refuses_to_rewrite_the_archive(pg_app, tmp_path):
    with get_db(pg_app).session() as db_session:
        load_services(db_session, tmp_path)
        make_case(db_session)
        db_session.commit()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db_session.execute(sa.delete(Event).execution_options(synchronize_session=False))
