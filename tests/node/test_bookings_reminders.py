"""Booking reminders as citizens notice them: one e-mail through a real SMTP server however often
the task runs, failures retried then on record, and the portal's own copy in the account."""

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from node.bookings import service as bookings
from node.bookings.models import Reminder
from node.bookings.schemas import settings_for
from node.bookings.tasks import REMIND, remind_due
from node.cases.models import Event, EventKind
from node.cases.schemas import Actor
from node.celery_app import get_celery
from node.database import CLOCK, get_db
from node.messaging.models import DeliveryStatus
from node.profiles.models import Citizen
from tests.factories import make_citizen
from tests.node.smtp import free_port
from tests.node.test_bookings import CODE, MONDAY, TUESDAY_0900, book, with_booking_service
from tests.node.test_bookings_web import SLOT
from tests.node.web import cheap_password_hashing, csrf_token, sign_up, text

DUE = TUESDAY_0900 - timedelta(hours=3)  # within the 24 hours before the slot


@pytest.fixture(autouse=True)
def real_clock():
    """Whatever a test does with the node's clock, the next one starts on the real one."""
    yield
    CLOCK.set(None)


def node(instance, **config):
    CLOCK.set(MONDAY)
    app = with_booking_service(instance, TIMEZONE="Europe/Rome", **config)
    with get_db(app).session() as session:
        settings = bookings_settings(app)
        bookings.generate_slots(
            db_session=session, service_code=CODE, settings=settings, actor=Actor.system()
        )
        session.commit()
    return app


def bookings_settings(app):
    return settings_for(
        services_dir=Path(app.config["SERVICES_DIR"]), service_code=CODE, timezone="Europe/Rome"
    )


def reminder_events(app, kind):
    with get_db(app).session() as session:
        return session.scalars(sa.select(Event).where(Event.kind == kind).order_by(Event.id)).all()


def test_an_email_reminder_reaches_the_smtp_server_once_however_often_the_task_runs(
    instance,
    smtp,
):
    controller, inbox = smtp
    app = node(instance, EMAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
    with get_db(app).session() as session:
        booking = book(session, bookings_settings(app), make_citizen(session, language="en"))
        session.commit()
    try:
        CLOCK.set(DUE)
        with app.app_context():
            assert remind_due() == 1
            remind_due()
            get_celery().tasks[REMIND].apply(args=[booking.id, CODE])  # a redelivered task
    finally:
        CLOCK.set(None)
    assert len(inbox.messages) == 1
    body = inbox.messages[0].get_content()
    assert f"Reminder: your appointment {booking.reference} is on 2026-12-08 at 09:00" in body
    assert len(reminder_events(app, EventKind.REMINDER_DELIVERED)) == 1


def test_a_reminder_the_server_refuses_is_retried_by_the_sweep_then_recorded_as_failed(instance):
    app = node(
        instance,
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=free_port(),  # nothing listens there
        MESSAGING_MAX_RETRIES=2,
    )
    with get_db(app).session() as session:
        citizen = make_citizen(session)
        book(session, bookings_settings(app), citizen)
        session.commit()
    try:
        CLOCK.set(DUE)
        with app.app_context():
            remind_due()
            remind_due()  # a failed reminder is not tried again from scratch
            for minutes in (10, 20, 30):  # the node's sweep, once each retry is due
                CLOCK.set(DUE + timedelta(minutes=minutes))
                remind_due()
    finally:
        CLOCK.set(None)
    failed = reminder_events(app, EventKind.REMINDER_FAILED)
    assert [(e.channel, e.data["attempt"], e.data["final"], e.citizen_id) for e in failed] == [
        ("email", 1, False, citizen.id),
        ("email", 2, False, citizen.id),
        ("email", 3, True, citizen.id),
    ]
    with get_db(app).session() as session:
        [row] = session.scalars(sa.select(Reminder)).all()
    assert (row.status, row.attempts) == (DeliveryStatus.FAILED, 3)


def test_a_citizen_who_prefers_the_web_reads_the_reminder_with_their_appointments(
    instance, monkeypatch
):
    cheap_password_hashing(monkeypatch)
    app = node(instance, WTF_CSRF_ENABLED=False)
    client = app.test_client()
    password = "a long citizen password"
    sign_up(
        client,
        app,
        {
            "email": "anna@example.org",
            "preferred_channel": "web",
            "language": "en",
            "consent_contact": "y",
            "password": password,
            "confirm": password,
        },
    )
    page = text(client.get(f"/bookings/{CODE}"))
    assert 'name="email"' not in page  # signed in: no contact asked for
    client.post(f"/bookings/{CODE}", data={"csrf_token": csrf_token(page), "slot": SLOT})
    try:
        CLOCK.set(DUE)
        with app.app_context():
            remind_due()
    finally:
        CLOCK.set(None)
    mine = text(client.get("/bookings/mine"))
    with get_db(app).session() as session:
        anna = session.scalar(sa.select(Citizen).where(Citizen.email == "anna@example.org"))
        [event] = session.scalars(
            sa.select(Event).where(Event.kind == EventKind.REMINDER_DELIVERED)
        ).all()
    assert "Reminder: your appointment BK" in mine and "2026-12-08" in mine
    assert (event.channel, event.citizen_id) == ("portal", anna.id)
