"""Appointment booking as citizens, agents and counter staff notice it: free slots listed, a
booking confirmed once per desk, changes refused after the cut-off, one reminder, attendance."""

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from node.bookings import service as bookings
from node.bookings.models import Booking, BookingStatus, Reminder, Slot
from node.bookings.schemas import settings_for
from node.bookings.tasks import publish_slots, remind_due
from node.cases.models import Event, EventKind
from node.cases.schemas import Actor
from node.database import CLOCK, get_db
from node.errors import Conflict, InvalidInput
from node.instance import load_services
from node.messaging.models import DeliveryStatus
from service_templates.engine import new_service, templates_root
from tests.factories import make_citizen, make_node_app, make_staff

CODE = "appointments"
# A Monday morning in Bologna (CET, UTC+1): slots open 09:00-13:00 local, 20 minutes, 2 desks.
MONDAY = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
TUESDAY_0900 = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # 09:00 in Bologna


def with_booking_service(instance, **settings):
    """A node hosting the appointment-booking template, generated with the real tooling."""
    app = make_node_app(instance, **settings)
    new_service(
        root=templates_root(),
        template="appointment-booking",
        services_dir=instance / "services",
        city={"city_name": "Bologna", "country": "IT", "languages": "en"},
        node_channels=["web", "app", "sms", "email", "phone", "counter"],
        assignments={"service_code": CODE, "department": "environment"},
    )
    report = load_services(app)
    assert not report.errors, report.errors
    return app


@pytest.fixture
def app(instance):
    app = with_booking_service(instance, WTF_CSRF_ENABLED=False, TIMEZONE="Europe/Rome")
    yield app
    CLOCK.set(None)
    get_db(app).engine.dispose()


@pytest.fixture
def settings(app):
    return settings_for(
        services_dir=Path(app.config["SERVICES_DIR"]), service_code=CODE, timezone="Europe/Rome"
    )


@pytest.fixture
def published(app, settings):
    """Slots published on Monday morning up to the horizon."""
    with get_db(app).session() as session:
        count = bookings.generate_slots(
            db_session=session,
            service_code=CODE,
            settings=settings,
            actor=Actor.system(),
            now=MONDAY,
        )
        session.commit()
    return count


def kinds(app) -> list[EventKind]:
    with get_db(app).session() as session:
        return list(
            session.scalars(
                sa.select(Event.kind).where(Event.service_code == CODE).order_by(Event.id)
            )
        )


def book(session, settings, citizen, at=TUESDAY_0900, office=None, channel="web", now=MONDAY):
    service = bookings.get_service(db_session=session, service_code=CODE)
    return bookings.book(
        db_session=session,
        service=service,
        settings=settings,
        citizen=citizen,
        office=office,
        starts_at=at,
        purpose="identity-card",
        channel=channel,
        actor=Actor.citizen(),
        now=now,
    )


def test_publishing_makes_a_slot_per_desk_office_and_period_and_again_makes_none(
    app, settings, published
):
    # Monday 08:00 in Rome: today's slots are all ahead. Dec 7 to Jan 6 has 23 weekdays (holidays
    # included: the template has no closing days); 12 slots a morning, 2 offices, 2 desks.
    weekdays = 5 * 4 + 3
    assert published == weekdays * 12 * 2 * 2
    with get_db(app).session() as session:
        again = bookings.generate_slots(
            db_session=session,
            service_code=CODE,
            settings=settings,
            actor=Actor.system(),
            now=MONDAY,
        )
        saturdays = session.scalar(
            sa.select(sa.func.count()).where(
                Slot.starts_at >= datetime(2026, 12, 12, tzinfo=UTC),
                Slot.starts_at < datetime(2026, 12, 14, tzinfo=UTC),
            )
        )
    assert again == 0 and saturdays == 0
    assert kinds(app) == [EventKind.SLOTS_PUBLISHED]


def test_the_last_desk_taken_refuses_the_next_booking_clearly(app, settings, published):
    with get_db(app).session() as session:
        first, second, third = (make_citizen(session) for _ in range(3))
        a = book(session, settings, first)
        b = book(session, settings, second)
        with pytest.raises(Conflict, match="already booked; choose another time"):
            book(session, settings, third)
        session.commit()
        assert {a.slot.desk, b.slot.desk} == {1, 2}
        assert session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 2
        # Even written past the service layer, one slot cannot hold two bookings.
        session.add(
            Booking(
                reference="BKDOUBLE",
                service_code=CODE,
                slot_id=a.slot_id,
                citizen_id=third.id,
                office=a.office,
                starts_at=a.starts_at,
                purpose="other",
                channel="web",
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()
    assert kinds(app).count(EventKind.BOOKED) == 2


def test_a_booking_event_names_service_channel_and_citizen(app, settings, published):
    with get_db(app).session() as session:
        citizen = make_citizen(session)
        book(session, settings, citizen, channel="phone")
        session.commit()
        event = session.scalar(sa.select(Event).where(Event.kind == EventKind.BOOKED))
    assert (event.service_code, event.channel, event.citizen_id, event.case_id) == (
        CODE,
        "phone",
        citizen.id,
        None,
    )


@pytest.mark.parametrize(
    ("at", "office", "purpose", "message"),
    [
        (datetime(2026, 12, 8, 8, 5, tzinfo=UTC), None, "other", "no slot on 2026-12-08 at 09:05"),
        (datetime(2026, 12, 7, 6, 0, tzinfo=UTC), None, "other", "that time has passed"),
        (datetime(2027, 3, 1, 8, 0, tzinfo=UTC), None, "other", "bookings open 30 days ahead"),
        (TUESDAY_0900, "the-moon", "other", "no office 'the-moon'"),
        (TUESDAY_0900, None, "haircut", "no purpose 'haircut'"),
    ],
)
def test_a_bad_booking_is_refused_with_its_reason_and_nothing_is_stored(
    app, settings, published, at, office, purpose, message
):
    with get_db(app).session() as session:
        citizen = make_citizen(session)
        session.commit()
        service = bookings.get_service(db_session=session, service_code=CODE)
        with pytest.raises(InvalidInput, match=message):
            bookings.book(
                db_session=session,
                service=service,
                settings=settings,
                citizen=citizen,
                office=office,
                starts_at=at,
                purpose=purpose,
                channel="web",
                actor=Actor.citizen(),
                now=MONDAY,
            )
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 0
    assert EventKind.BOOKED not in kinds(app)


def test_move_and_cancel_free_the_old_slot_until_the_cut_off(app, settings, published):
    later = TUESDAY_0900 + timedelta(minutes=40)
    with get_db(app).session() as session:
        citizen, other = make_citizen(session), make_citizen(session)
        booking = book(session, settings, citizen)
        bookings.move(
            db_session=session,
            booking=booking,
            settings=settings,
            starts_at=later,
            office="registry-office",
            channel="web",
            actor=Actor.citizen(),
            now=MONDAY,
        )
        assert (booking.office, booking.starts_at) == ("registry-office", later)
        book(session, settings, other)  # the old time has both desks free again
        book(session, settings, other)
        # Changes close 2 hours before: at 07:01 UTC (08:01 local) a 09:20 local slot is 1h19 away.
        cut = later - timedelta(hours=2) + timedelta(minutes=1)
        with pytest.raises(Conflict, match="changes close 2 hours before"):
            bookings.cancel(
                db_session=session,
                booking=booking,
                settings=settings,
                channel="web",
                actor=Actor.citizen(),
                now=cut,
            )
        bookings.cancel(
            db_session=session,
            booking=booking,
            settings=settings,
            channel="sms",
            actor=Actor.citizen(),
            now=MONDAY,
        )
        session.commit()
        assert booking.status is BookingStatus.CANCELLED and booking.slot_id is None
        with pytest.raises(Conflict, match="is cancelled"):
            bookings.cancel(
                db_session=session,
                booking=booking,
                settings=settings,
                channel="web",
                actor=Actor.citizen(),
                now=MONDAY,
            )
    assert kinds(app) == [
        EventKind.SLOTS_PUBLISHED,
        EventKind.BOOKED,
        EventKind.BOOKING_MOVED,
        EventKind.BOOKED,
        EventKind.BOOKED,
        EventKind.BOOKING_CANCELLED,
    ]


def test_a_move_to_a_full_time_keeps_the_booking_where_it_was(app, settings, published):
    later = TUESDAY_0900 + timedelta(minutes=20)
    with get_db(app).session() as session:
        citizen = make_citizen(session)
        booking = book(session, settings, citizen)
        book(session, settings, make_citizen(session), at=later)
        book(session, settings, make_citizen(session), at=later)
        slot_id = booking.slot_id
        with pytest.raises(Conflict, match="already booked"):
            bookings.move(
                db_session=session,
                booking=booking,
                settings=settings,
                starts_at=later,
                channel="web",
                actor=Actor.citizen(),
                now=MONDAY,
            )
        session.commit()
        session.refresh(booking)
        assert (booking.slot_id, booking.starts_at) == (slot_id, TUESDAY_0900)
    assert EventKind.BOOKING_MOVED not in kinds(app)


def test_staff_record_attended_and_no_show_once_the_slot_has_begun(app, settings, published):
    with get_db(app).session() as session:
        came, missed = book(session, settings, make_citizen(session)), None
        missed = book(session, settings, make_citizen(session))
        staff = make_staff(session, role="caseworker")
        with pytest.raises(Conflict, match="has not started yet"):
            bookings.record_attendance(
                db_session=session,
                booking=came,
                outcome="attended",
                actor=Actor.of_staff(staff),
                now=MONDAY,
            )
        with pytest.raises(InvalidInput, match="outcome is one of attended, no_show"):
            bookings.record_attendance(
                db_session=session,
                booking=came,
                outcome="late",
                actor=Actor.of_staff(staff),
                now=TUESDAY_0900,
            )
        for booking, outcome in ((came, "attended"), (missed, "no_show")):
            bookings.record_attendance(
                db_session=session,
                booking=booking,
                outcome=outcome,
                actor=Actor.of_staff(staff),
                now=TUESDAY_0900 + timedelta(minutes=5),
            )
        session.commit()
        assert (came.status, missed.status) == (BookingStatus.ATTENDED, BookingStatus.NO_SHOW)
        events = session.scalars(
            sa.select(Event).where(Event.kind.in_([EventKind.ATTENDED, EventKind.NO_SHOW]))
        ).all()
    assert [(e.kind, e.citizen_id, e.service_code) for e in events] == [
        (EventKind.ATTENDED, came.citizen_id, CODE),
        (EventKind.NO_SHOW, missed.citizen_id, CODE),
    ]


def test_reminders_go_out_once_on_each_citizens_channel(app, settings, published, caplog):
    with get_db(app).session() as session:
        by_sms = make_citizen(session, email=None, phone="+393331112233", preferred_channel="sms")
        by_mail = make_citizen(session)
        silent = make_citizen(session, consent_contact=False)
        far = make_citizen(session)
        for n, citizen in enumerate((by_sms, by_mail, silent)):
            book(session, settings, citizen, at=TUESDAY_0900 + timedelta(minutes=20 * n))
        book(session, settings, far, at=TUESDAY_0900 + timedelta(days=7))
        session.commit()
    CLOCK.set(TUESDAY_0900 - timedelta(hours=20))  # within the 24 hours before
    with app.app_context(), caplog.at_level(logging.INFO, logger="carmen.messaging"):
        assert remind_due() == 3
        assert remind_due() == 0  # run again by beat: nobody is reminded twice
    logged = [r.getMessage() for r in caplog.records if r.name == "carmen.messaging"]
    assert len(logged) == 2
    assert any("+393331112233" in m and "Reminder: your appointment BK" in m for m in logged)
    with get_db(app).session() as session:
        rows = {r.channel: r.status for r in session.scalars(sa.select(Reminder))}
        delivered = session.scalars(
            sa.select(Event).where(Event.kind == EventKind.REMINDER_DELIVERED)
        ).all()
    assert rows == {
        "sms": DeliveryStatus.SENT,
        "email": DeliveryStatus.SENT,
        "none": DeliveryStatus.SKIPPED,
    }
    assert sorted(e.channel for e in delivered) == ["email", "sms"]
    assert {e.citizen_id for e in delivered} == {by_sms.id, by_mail.id}


def test_the_beat_task_publishes_the_slots_of_every_booking_service(app):
    CLOCK.set(MONDAY)
    with app.app_context():
        assert publish_slots() > 0
        assert publish_slots() == 0


@pytest.mark.postgres
def test_two_citizens_racing_for_one_desk_on_postgres_get_one_desk_each(postgres_url, tmp_path):
    instance = tmp_path / "instance"
    app = with_booking_service(instance, DATABASE_URL=postgres_url, TIMEZONE="Europe/Rome")
    settings = settings_for(
        services_dir=instance / "services", service_code=CODE, timezone="Europe/Rome"
    )
    db = get_db(app)
    with db.session() as session:
        bookings.generate_slots(
            db_session=session,
            service_code=CODE,
            settings=settings,
            actor=Actor.system(),
            now=MONDAY,
        )
        first, second = make_citizen(session), make_citizen(session)
        session.commit()
    outcome: dict[str, object] = {}

    def racer() -> None:
        with db.session() as other:
            try:
                # Sees desk 1 free (the first booking is not committed) and waits on its lock.
                won = book(other, settings, other.get(type(second), second.id))
                other.commit()
                outcome["desk"] = won.slot.desk
            except Exception as exc:  # reported to the test below
                outcome["error"] = exc

    with db.session() as session:
        held = book(session, settings, session.get(type(first), first.id))
        assert held.slot.desk == 1
        thread = threading.Thread(target=racer)
        thread.start()
        waiting = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        with db.engine.connect() as probe:
            while not probe.execute(waiting).scalar() and thread.is_alive():
                probe.rollback()
        session.commit()
    thread.join()
    db.engine.dispose()
    assert outcome == {"desk": 2}


def test_bookings_and_attendance_are_counted_in_the_months_snapshot(app, settings, published):
    from node.sync import service as sync

    with get_db(app).session() as session:
        staff = make_staff(session, role="caseworker")
        by_sms = book(session, settings, make_citizen(session), channel="sms")
        book(session, settings, make_citizen(session), channel="web")
        bookings.record_attendance(
            db_session=session,
            booking=by_sms,
            outcome="attended",
            actor=Actor.of_staff(staff),
            now=TUESDAY_0900,
        )
        session.flush()
        values = sync.aggregate(db_session=session, period="2026-12").values
    total = (CODE, "all", None)
    assert values[(total, "events.booked")] == 2
    assert values[((CODE, "channel", "sms"), "events.booked")] == 1
    assert values[(total, "events.attended")] == 1
    assert values[(total, "citizens")] == 2
