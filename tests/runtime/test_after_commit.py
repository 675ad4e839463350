"""Work that must follow a commit: done once the transaction commits, never when it rolls back,
and a failure after the commit does not undo what was committed."""

import logging

import sqlalchemy as sa

from node.cases import service as cases
from node.cases.schemas import Actor
from node.database import get_db
from node.messaging.models import Notification
from node.messaging.tasks import notify_after_commit
from runtime.database import Database, after_commit
from tests.factories import make_case, make_citizen, make_node_app


def test_callbacks_run_after_the_outer_commit_only_and_never_after_a_rollback():
    database = Database("sqlite://")
    done = []
    with database.session() as session:
        after_commit(session, lambda: done.append("rolled back"))
        session.rollback()
        after_commit(session, lambda: done.append("outer"))
        with session.begin_nested():  # a savepoint released: the outer may still roll back
            after_commit(session, lambda: done.append("inner"))
        assert done == []
        session.commit()
        session.commit()  # a second commit runs nothing again
    assert done == ["outer", "inner"]
    database.engine.dispose()


def test_a_failing_callback_is_logged_and_the_others_still_run(caplog):
    database = Database("sqlite://")
    done = []
    with database.session() as session:
        session.execute(sa.text("CREATE TABLE kept (n INTEGER)"))
        session.execute(sa.text("INSERT INTO kept VALUES (1)"))
        after_commit(session, lambda: 1 / 0)
        after_commit(session, lambda: done.append("second"))
        with caplog.at_level(logging.ERROR, logger="carmen.database"):
            session.commit()
        assert session.scalar(sa.text("SELECT count(*) FROM kept")) == 1
    assert done == ["second"]
    assert "the change itself is kept" in caplog.text
    database.engine.dispose()


def test_a_citizen_is_told_of_a_committed_change_and_never_of_a_rolled_back_one(tmp_path):
    app = make_node_app(tmp_path / "node")
    with get_db(app).session() as session:
        case = make_case(session, citizen=make_citizen(session))
        session.commit()
    with app.app_context(), get_db(app).session() as session:
        case = session.get(cases.Case, case.id)
        cases.move(db_session=session, case=case, action="acknowledge", actor=Actor.system())
        notify_after_commit(db_session=session, case_id=case.id)
        session.rollback()
        assert session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0

        cases.move(db_session=session, case=case, action="acknowledge", actor=Actor.system())
        notify_after_commit(db_session=session, case_id=case.id)
        session.commit()
        assert session.scalar(sa.select(Notification.status)) == "sent"
    get_db(app).engine.dispose()
