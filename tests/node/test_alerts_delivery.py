"""When alerts go out: held through quiet hours and beyond the daily cap (never dropped), sent
once however often the task runs, retried when the gateway fails."""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.alerts import service as alerts
from node.alerts.models import AlertDelivery
from node.alerts.tasks import deliver_after_commit, deliver_alert, deliver_due_alerts
from node.cases.models import Event, EventKind
from node.cases.schemas import Actor
from node.database import get_db
from node.instance import initialise, open_app
from node.messaging.adapters import Adapters, DeliveryError, LogEmail, LogSms
from node.messaging.models import DeliveryStatus
from node.messaging.tasks import use_adapters
from tests.factories import make_citizen, make_node_app
from tests.node.test_alerts import CODE, install_alert_service
from tests.node.web import cheap_password_hashing

ROME = ZoneInfo("Europe/Rome")
# 30 November: Rome is UTC+1. Quiet hours 22:00-07:00 local are 21:00-06:00 UTC.
LATE_EVENING = datetime(2026, 11, 30, 21, 30, tzinfo=UTC)  # 22:30 in Rome
MORNING = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 07:00 in Rome
NOON = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


@pytest.fixture
def app(instance):
    app = make_node_app(instance, TIMEZONE="Europe/Rome", MESSAGING_MAX_RETRIES=2)
    install_alert_service(app, quiet_hours="22:00-07:00", max_alerts_per_day="2")
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def sms_log(caplog):
    caplog.set_level(logging.INFO, logger="carmen.messaging")
    return lambda: [
        r.args for r in caplog.records if r.msg.startswith("SMS (not sent, SMS_GATEWAY=log)")
    ]


def settings(app):
    return alerts.settings_of(services_dir=Path(app.config["SERVICES_DIR"]), service_code=CODE)


def subscriber(app, phone="+393331110000", channels=("sms",)):
    with get_db(app).session() as session:
        citizen = make_citizen(session, phone=phone, language="en")
        for channel in channels:
            alerts.subscribe(
                db_session=session,
                service=alerts.get_alert_service(db_session=session, code=CODE),
                settings=settings(app),
                citizen=citizen,
                topics=["pollution-peaks"],
                channel=channel,
                via="sms",
            )
        session.commit()
        return citizen.id


def published(app, *, at, urgent=False, text="PM10 above the limit") -> list[int]:
    """Publish an alert at a given time; the ids of its deliveries."""
    with get_db(app).session() as session:
        alert = alerts.publish(
            db_session=session,
            service=alerts.get_alert_service(db_session=session, code=CODE),
            settings=settings(app),
            topic="pollution-peaks",
            areas=["city"],
            text=text,
            urgent=urgent,
            actor=Actor.system(),
            now=at,
        )
        session.commit()
        return alerts.pending_deliveries(db_session=session, alert_id=alert.id)


def attempt(app, delivery_id, *, at) -> alerts.Outcome:
    with app.app_context(), get_db(app).session() as session:
        outcome = alerts.deliver(
            db_session=session,
            delivery_id=delivery_id,
            attempt=1,
            final=False,
            adapters=Adapters(email=LogEmail(), sms=LogSms()),
            settings=settings(app),
            city="Bologna",
            zone=ROME,
            now=at,
        )
        session.commit()
        return outcome


def delivery(app, delivery_id) -> AlertDelivery:
    with get_db(app).session() as session:
        return session.get(AlertDelivery, delivery_id)


def test_an_alert_published_in_quiet_hours_waits_for_the_morning(app, sms_log):
    subscriber(app)
    (held,) = published(app, at=LATE_EVENING)
    assert attempt(app, held, at=LATE_EVENING) is alerts.Outcome.DEFERRED
    assert sms_log() == []
    assert delivery(app, held).status is DeliveryStatus.PENDING
    assert delivery(app, held).not_before == MORNING

    with get_db(app).session() as session:
        assert alerts.due_deliveries(db_session=session, now=MORNING - timedelta(minutes=1)) == []
        assert alerts.due_deliveries(db_session=session, now=MORNING) == [held]
    assert attempt(app, held, at=MORNING) is alerts.Outcome.DONE
    assert [body for _, body in sms_log()] == [
        "Bologna alert, Pollution peaks, the whole city: PM10 above the limit"
    ]

    (urgent,) = published(app, at=LATE_EVENING, urgent=True, text="Evacuate Via Emilia")
    assert attempt(app, urgent, at=LATE_EVENING) is alerts.Outcome.DONE
    assert "Evacuate Via Emilia" in sms_log()[-1][1]


def test_alerts_beyond_the_daily_cap_are_held_until_the_next_day(app, sms_log):
    subscriber(app, channels=("email", "sms"))  # the cap counts alerts, not messages
    first, second, third = (published(app, at=NOON, text=f"Peak {n}") for n in (1, 2, 3))
    for delivery_ids in (first, second):
        for delivery_id in delivery_ids:
            assert attempt(app, delivery_id, at=NOON) is alerts.Outcome.DONE
    by_email, third = third
    assert attempt(app, by_email, at=NOON) is alerts.Outcome.DEFERRED
    assert attempt(app, third, at=NOON) is alerts.Outcome.DEFERRED
    assert len(sms_log()) == 2
    midnight_in_rome = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert delivery(app, third).not_before == midnight_in_rome
    # Midnight is in the quiet hours: the hold moves on to the morning, still not dropped.
    assert attempt(app, third, at=midnight_in_rome) is alerts.Outcome.DEFERRED
    assert attempt(app, third, at=MORNING + timedelta(days=1)) is alerts.Outcome.DONE
    assert [body[-6:] for _, body in sms_log()] == ["Peak 1", "Peak 2", "Peak 3"]


def test_a_delivery_is_sent_once_however_often_its_task_runs(app, sms_log, monkeypatch):
    subscriber(app)
    (delivery_id,) = published(app, at=NOON)
    monkeypatch.setattr(alerts, "utcnow", lambda: NOON)  # outside the quiet hours
    with app.app_context(), get_db(app).session() as session:
        deliver_after_commit(db_session=session, alert_id=delivery(app, delivery_id).alert_id)
        session.commit()
        deliver_alert.apply(args=[delivery_id])
        deliver_due_alerts.apply()
    assert len(sms_log()) == 1
    with get_db(app).session() as session:
        delivered = session.scalars(
            sa.select(Event).where(Event.kind == EventKind.ALERT_DELIVERED)
        ).all()
    assert [(e.channel, e.service_code) for e in delivered] == [("sms", CODE)]


class FlakyGateway:
    """An SMS gateway that is down for the first `failures` messages."""

    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[str] = []

    def send(self, *, to: str, body: str) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("gateway answered 503")
        self.sent.append(body)


def test_a_failed_delivery_is_retried_and_each_attempt_is_on_record(app, monkeypatch):
    citizen_id = subscriber(app)
    (delivery_id,) = published(app, at=NOON)
    gateway = FlakyGateway(failures=1)
    use_adapters(app, Adapters(email=LogEmail(), sms=gateway))
    clock = [NOON]
    monkeypatch.setattr(alerts, "utcnow", lambda: clock[0])

    def sweep_later() -> None:  # what the node's beat thread runs every five minutes
        clock[0] += timedelta(hours=1)
        with app.app_context():
            deliver_due_alerts.apply()

    with app.app_context(), get_db(app).session() as session:
        deliver_after_commit(db_session=session, alert_id=delivery(app, delivery_id).alert_id)
        session.commit()
    assert gateway.sent == []  # the failed attempt is not retried within the request
    sweep_later()
    assert len(gateway.sent) == 1
    assert delivery(app, delivery_id).status is DeliveryStatus.SENT
    with get_db(app).session() as session:
        attempts = session.scalars(
            sa.select(Event)
            .where(Event.kind.in_([EventKind.ALERT_FAILED, EventKind.ALERT_DELIVERED]))
            .order_by(Event.id)
        ).all()
    assert [(e.kind, e.data["attempt"], e.citizen_id) for e in attempts] == [
        (EventKind.ALERT_FAILED, 1, citizen_id),
        (EventKind.ALERT_DELIVERED, 2, citizen_id),
    ]

    (given_up,) = published(app, at=NOON, text="Second peak")
    use_adapters(app, Adapters(email=LogEmail(), sms=FlakyGateway(failures=99)))
    with app.app_context(), get_db(app).session() as session:
        deliver_after_commit(db_session=session, alert_id=delivery(app, given_up).alert_id)
        session.commit()
    for _ in range(3):
        sweep_later()
    assert delivery(app, given_up).status is DeliveryStatus.FAILED
    with get_db(app).session() as session:
        failed = session.scalars(
            sa.select(Event).where(Event.kind == EventKind.ALERT_FAILED).order_by(Event.id)
        ).all()
    assert [e.data["final"] for e in failed] == [False, False, False, True]


@pytest.mark.postgres
def test_on_postgres_a_held_alert_goes_out_once_in_the_morning(postgres_url, tmp_path, sms_log):
    app = make_node_app(tmp_path / "pg", DATABASE_URL=postgres_url, TIMEZONE="Europe/Rome")
    try:
        install_alert_service(app, quiet_hours="22:00-07:00")
        subscriber(app)
        (held,) = published(app, at=LATE_EVENING)
        assert attempt(app, held, at=LATE_EVENING) is alerts.Outcome.DEFERRED
        assert attempt(app, held, at=MORNING) is alerts.Outcome.DONE
        assert attempt(app, held, at=MORNING) is alerts.Outcome.DONE  # a duplicate task
        assert len(sms_log()) == 1
    finally:
        get_db(app).engine.dispose()


def test_an_embedded_node_sends_held_alerts_when_the_operator_runs_alerts_due(
    tmp_path, sms_log, monkeypatch
):
    cheap_password_hashing(monkeypatch)
    path = tmp_path / "bologna"
    initialise(
        path=path,
        city="Bologna",
        country="IT",
        population=390_000,
        admin_email="admin@comune.bologna.example",
        districts=["Navile", "Savena"],
        settings={"timezone": "Europe/Rome"},
    )
    app = open_app(path)
    install_alert_service(app, quiet_hours="22:00-07:00")
    subscriber(app)
    (held,) = published(app, at=LATE_EVENING)
    assert attempt(app, held, at=LATE_EVENING) is alerts.Outcome.DEFERRED
    get_db(app).engine.dispose()

    monkeypatch.setattr(alerts, "utcnow", lambda: NOON)  # the next day, after the quiet hours
    result = CliRunner().invoke(main, ["node", "alerts-due", "--instance", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 alert deliveries due, tried"
    assert [body[-20:] for _, body in sms_log()] == ["PM10 above the limit"]
