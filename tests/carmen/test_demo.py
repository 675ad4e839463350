"""The demo a newcomer runs: a real city's node with its service and activity, reused on rerun."""

import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from carmen.demo import prepare
from node.cases.models import Case, CaseStatus
from node.database import get_db
from node.instance import open_app
from node.staff import service as staff


def test_demo_builds_a_node_for_a_real_city_with_cases_and_working_logins(tmp_path):
    instance, logins = prepare(root=tmp_path, city_name="tallinn", fresh=False)
    app = open_app(instance)
    assert app.config["CITY"] == "Tallinn"
    assert app.config["POPULATION"] == 423_420  # from the Eurostat table
    with get_db(app).session() as db_session:
        statuses = db_session.scalars(sa.select(Case.status)).all()
        assert len(statuses) == 60
        assert CaseStatus.RESOLVED in statuses and CaseStatus.NEW in statuses
        for login in logins:
            assert staff.authenticate(
                db_session=db_session, email=login.email, password=login.password
            ), login.role


def test_demo_reuses_its_node_unless_asked_for_a_fresh_one(tmp_path):
    _, first = prepare(root=tmp_path, city_name="Tallinn", fresh=False)
    _, again = prepare(root=tmp_path, city_name="Tallinn", fresh=False)
    assert again == first
    _, fresh = prepare(root=tmp_path, city_name="Tallinn", fresh=True)
    assert fresh[0].password != first[0].password


def test_demo_names_close_matches_for_an_unknown_city(tmp_path):
    result = CliRunner().invoke(
        main, ["demo", "--root", str(tmp_path), "--city", "Bolog", "--no-serve"]
    )
    assert result.exit_code == 1
    assert "did you mean Bologna" in result.output
