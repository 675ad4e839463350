"""Danger gets priority: routing rules set a priority and a shorter SLA, a danger report alerts
the department's staff on duty, and a service routed to a department nobody staffs is refused."""

import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.cases.models import Event, EventKind, Priority
from node.database import CLOCK, get_db, utcnow
from node.instance import initialise, load_services
from node.intake import service as intake
from node.messaging.models import DeliveryStatus, StaffAlert
from node.messaging.tasks import notify_pending
from node.services.service import list_active
from node.staff.models import StaffUser
from tests.factories import make_staff

DANGER_RULE = """
[[attributes]]
code = "danger"
datatype = "singlevaluelist"
description = "Is someone in immediate danger?"
values = [{ key = "yes", name = "Yes" }, { key = "no", name = "No" }]

[[routing]]
attribute = "danger"
equals = "yes"
department = "civil-protection"
priority = "urgent"
sla_hours = 4
alert = true
"""


@pytest.fixture
def app(instance):
    from tests.factories import make_node_app

    app = make_node_app(instance)
    spec = app.config["SERVICES_DIR"] / "noise-report" / "service.toml"
    spec.write_text(spec.read_text() + DANGER_RULE)
    assert load_services(app).errors == {}
    yield app
    get_db(app).engine.dispose()


def submit(app, **attributes):
    with app.app_context(), get_db(app).session() as session:
        case = intake.submit(
            db_session=session,
            service_code="noise-report",
            channel="web",
            description="Balcony railing hanging over the pavement",
            attributes={"source": "other", **attributes},
            tracking_prefix="BO",
        )
        session.commit()
        return case.id, case.priority, case.due_at - case.created_at, case.department.code


def test_a_danger_report_is_urgent_due_sooner_and_alerts_the_staff_on_duty(app, caplog):
    with get_db(app).session() as session:
        on_duty = [make_staff(session, "caseworker", "civil-protection").email for _ in range(2)]
        make_staff(session, "caseworker", "environment")
        session.commit()
    with caplog.at_level(logging.INFO, logger="carmen.messaging"):
        case_id, priority, sla, department = submit(app, danger="yes")
    assert (priority, sla, department) == (Priority.URGENT, timedelta(hours=4), "civil-protection")
    told = [r.getMessage() for r in caplog.records if r.name == "carmen.messaging"]
    assert sorted(m.split(" to ", 1)[1].split(":", 1)[0] for m in told) == sorted(on_duty)
    assert all("immediate danger" in m for m in told)
    with get_db(app).session() as session:
        alerted = session.scalars(
            sa.select(Event).where(Event.case_id == case_id, Event.kind == EventKind.STAFF_ALERTED)
        ).all()
        assert sorted(e.data["staff"] for e in alerted) == sorted(on_duty)
    with app.app_context():
        notify_pending.apply()  # the sweep sends nothing twice
    with get_db(app).session() as session:
        statuses = session.scalars(sa.select(StaffAlert.status)).all()
    assert statuses == [DeliveryStatus.SENT, DeliveryStatus.SENT]

    _, priority, sla, _ = submit(app, danger="no")
    assert (priority, sla) == (Priority.NORMAL, timedelta(hours=72))
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(StaffAlert)) == 2


def test_without_caseworkers_the_supervisors_are_on_duty(app, caplog):
    with get_db(app).session() as session:
        supervisor = make_staff(session, "supervisor").email
        gone = make_staff(session, "caseworker", "civil-protection")
        gone.active = False
        session.commit()
    with caplog.at_level(logging.INFO, logger="carmen.messaging"):
        submit(app, danger="yes")
    told = [r.getMessage() for r in caplog.records if r.name == "carmen.messaging"]
    assert len(told) == 1 and supervisor in told[0]


def test_a_rule_longer_than_the_service_sla_is_refused_with_the_reason(app):
    spec = app.config["SERVICES_DIR"] / "noise-report" / "service.toml"
    spec.write_text(spec.read_text().replace("sla_hours = 4", "sla_hours = 100"))
    report = load_services(app)
    assert "must be shorter than the service's 72" in report.errors["noise-report"]


def test_serving_refuses_a_service_routed_to_a_department_without_staff(app):
    report = load_services(app, refuse_unstaffed=True)
    assert "civil-protection" in report.errors["noise-report"]
    with get_db(app).session() as session:
        assert "noise-report" not in [s.code for s in list_active(db_session=session)]
        make_staff(session, "caseworker", "environment")
        make_staff(session, "caseworker", "building-control")
        make_staff(session, "caseworker", "civil-protection")
        session.commit()
    assert load_services(app, refuse_unstaffed=True).errors == {}
    with get_db(app).session() as session:
        assert "noise-report" in [s.code for s in list_active(db_session=session)]


def test_a_fresh_node_lists_the_unstaffed_service_with_a_warning(tmp_path):
    from tests.factories import install_example_services

    initialise(
        path=tmp_path / "node",
        city="Bologna",
        country="IT",
        population=390_000,
        admin_email="admin@comune.example",
    )
    install_example_services(tmp_path / "node")
    result = CliRunner().invoke(main, ["node", "services", "--instance", str(tmp_path / "node")])
    assert result.exit_code == 0, result.output
    assert "noise-report" in result.stdout
    assert (
        "no active caseworker" in result.stderr
        and "refused by `carmen node serve`" in result.stderr
    )
    with get_db(open_instance(tmp_path / "node")).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 1


def open_instance(path):
    from node.instance import open_app

    return open_app(path)


def test_an_old_imported_danger_report_alerts_nobody(app):
    with get_db(app).session() as session:
        make_staff(session, "caseworker", "civil-protection")
        session.commit()
    with app.app_context(), get_db(app).session() as session:
        intake.submit(
            db_session=session,
            service_code="noise-report",
            channel="web",
            attributes={"source": "other", "danger": "yes"},
            tracking_prefix="BO",
            now=utcnow() - timedelta(days=400),
        )
        session.commit()
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(StaffAlert)) == 0


def test_a_danger_alert_the_mail_server_refused_is_sent_by_the_sweep_once_it_is_back(
    instance, smtp
):
    from tests.factories import make_node_app
    from tests.node.smtp import free_port

    controller, inbox = smtp
    app = make_node_app(
        instance, EMAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=free_port()
    )
    spec = app.config["SERVICES_DIR"] / "noise-report" / "service.toml"
    spec.write_text(spec.read_text() + DANGER_RULE)
    assert load_services(app).errors == {}
    with get_db(app).session() as session:
        on_duty = make_staff(session, "caseworker", "civil-protection").email
        session.commit()
    try:
        submit(app, danger="yes")  # nothing listens at the mail server's port
        with get_db(app).session() as session:
            [alert] = session.scalars(sa.select(StaffAlert)).all()
            assert alert.status is DeliveryStatus.PENDING and alert.next_attempt_at is not None
            due = alert.next_attempt_at
        assert inbox.messages == []
        app.config["SMTP_PORT"] = controller.port  # the mail server is back
        with app.app_context():
            notify_pending.apply()  # before the retry is due: nothing yet
            assert inbox.messages == []
            CLOCK.set(due + timedelta(seconds=1))
            notify_pending.apply()
            notify_pending.apply()  # and only once
        assert [m["To"] for m in inbox.messages] == [on_duty]
        with get_db(app).session() as session:
            assert session.scalars(sa.select(StaffAlert.status)).all() == [DeliveryStatus.SENT]
    finally:
        CLOCK.set(None)
        get_db(app).engine.dispose()
