"""Booking through the channels as people use them: the portal's free slots and forms, an SMS
with the service's keyword, the call-centre page, and the office's day list."""

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from node.bookings.models import Booking, BookingStatus, Slot
from node.cases.models import Case, Event, EventKind
from node.database import CLOCK, get_db
from node.profiles.models import Citizen
from tests.factories import PASSWORD, make_citizen, make_staff
from tests.node.test_bookings import CODE, MONDAY, with_booking_service
from tests.node.test_sms import TOKEN, reply_of, send_sms
from tests.node.web import cheap_password_hashing, csrf_token, text

SLOT = "town-hall|2026-12-08T08:00:00+00:00"  # Tuesday 09:00 in Rome, desk 1 or 2
PHONE = "+393331234567"


@pytest.fixture
def app(instance):
    CLOCK.set(MONDAY)
    app = with_booking_service(instance, SMS_AUTH_TOKEN=TOKEN, TIMEZONE="Europe/Rome")
    yield app
    CLOCK.set(None)
    get_db(app).engine.dispose()


@pytest.fixture
def client(app, monkeypatch):
    cheap_password_hashing(monkeypatch)
    return app.test_client()


@pytest.fixture
def staff_client(app, client):
    """A supervisor signed in, who has published the slots with the back-office button."""
    with get_db(app).session() as session:
        staff = make_staff(session, role="supervisor", department=None)
        session.commit()
    sign_in(client, staff.email)
    page = client.get(f"/office/bookings/{CODE}")
    published = client.post(
        f"/office/bookings/{CODE}/publish", data={"csrf_token": csrf_token(text(page))}
    )
    assert published.status_code == 302
    return client


def sign_in(client, email: str) -> None:
    """Sign a staff member in through the back-office form, its CSRF token included."""
    token = csrf_token(text(client.get("/office/login")))
    signed = client.post(
        "/office/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert signed.status_code == 302


def count(app, model) -> int:
    with get_db(app).session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def booked(app) -> list[Booking]:
    with get_db(app).session() as session:
        return list(session.scalars(sa.select(Booking).order_by(Booking.id)))


def test_the_portal_lists_free_slots_per_office_and_day_and_books_one(app, staff_client):
    client = app.test_client()  # an anonymous citizen
    assert f'href="/bookings/{CODE}"' in text(client.get("/"))
    page = client.get(f"/bookings/{CODE}")
    html = text(page)
    assert "Town hall" in html and "Registry office" in html and "2026-12-08" in html
    assert f'value="{SLOT}"' in html and "09:00" in html
    done = client.post(
        f"/bookings/{CODE}",
        data={
            "csrf_token": csrf_token(html),
            "slot": SLOT,
            "purpose": "residence",
            "email": "marco@example.org",
        },
        follow_redirects=True,
    )
    assert done.status_code == 200
    [booking] = booked(app)
    assert booking.reference in text(done) and "2026-12-08 at 09:00 at Town hall" in text(done)
    assert (booking.channel, booking.purpose) == ("web", "residence")
    with get_db(app).session() as session:
        assert session.get(Citizen, booking.citizen_id).email == "marco@example.org"
    assert count(app, Case) == 0  # a booking, not a case


def test_the_portal_refuses_a_bad_booking_and_keeps_nothing(app, staff_client):
    client = app.test_client()
    page = text(client.get(f"/bookings/{CODE}"))
    citizens = count(app, Citizen)
    no_contact = client.post(
        f"/bookings/{CODE}", data={"csrf_token": csrf_token(page), "slot": SLOT}
    )
    assert no_contact.status_code == 400
    assert "give an e-mail address or a phone number" in text(no_contact)
    no_slot = client.post(
        f"/bookings/{CODE}", data={"csrf_token": csrf_token(page), "email": "a@example.org"}
    )
    assert no_slot.status_code == 400 and "choose one of the free times" in text(no_slot)
    forged = client.post(
        f"/bookings/{CODE}",
        data={
            "csrf_token": csrf_token(page),
            "slot": "town-hall|2026-12-08T08:05:00+00:00",
            "email": "a@example.org",
        },
    )
    assert forged.status_code == 400 and "has no slot on 2026-12-08 at 09:05" in text(forged)
    assert count(app, Booking) == 0 and count(app, Citizen) == citizens


def test_the_portal_moves_then_cannot_change_after_the_cut_off(app, staff_client):
    client = app.test_client()
    page = text(client.get(f"/bookings/{CODE}"))
    client.post(
        f"/bookings/{CODE}",
        data={"csrf_token": csrf_token(page), "slot": SLOT, "email": "m@example.org"},
    )
    [booking] = booked(app)
    url = f"/bookings/ref/{booking.reference}"
    page = text(client.get(url))
    later = "registry-office|2026-12-08T09:00:00+00:00"
    assert f'value="{later}"' in page
    moved = client.post(
        f"{url}/move", data={"csrf_token": csrf_token(page), "slot": later}, follow_redirects=True
    )
    assert "has moved to 2026-12-08 at 10:00 at Registry office" in text(moved)
    CLOCK.set(datetime(2026, 12, 8, 8, 30, tzinfo=UTC))  # 09:30 in Rome, 30 min before
    late = client.post(
        f"{url}/cancel", data={"csrf_token": csrf_token(text(moved))}, follow_redirects=True
    )
    assert "can no longer be changed: changes close 2 hours before" in text(late)
    [booking] = booked(app)
    assert booking.status is BookingStatus.BOOKED and booking.office == "registry-office"


def test_sms_books_the_first_free_desk_and_cancels_with_the_reference(app, staff_client):
    client = app.test_client()
    first = reply_of(send_sms(client, "book 2026-12-08 09:00"))
    assert re.search(r"Your appointment BK\w{6} is on 2026-12-08 at 09:00 at Town hall", first)
    second = reply_of(send_sms(client, "BOOK 8/12 9:00 registry-office", sender="+393339999999"))
    assert "at Registry office" in second
    [mine, other] = booked(app)
    assert (mine.channel, mine.slot_id is not None) == ("sms", True)
    refused = reply_of(send_sms(client, f"BOOK CANCEL {other.reference}"))  # not my booking
    assert f"Not done: no booking {other.reference}" in refused
    moved = reply_of(send_sms(client, f"BOOK MOVE {mine.reference} 2026-12-08 10:00"))
    assert f"Your appointment {mine.reference} has moved to 2026-12-08 at 10:00" in moved
    cancelled = reply_of(send_sms(client, f"BOOK CANCEL {mine.reference.lower()}"))
    assert f"Your appointment {mine.reference} is cancelled." in cancelled
    with get_db(app).session() as session:
        events = session.scalars(
            sa.select(Event).where(Event.service_code == CODE, Event.channel == "sms")
        ).all()
    assert [e.kind for e in events] == [
        EventKind.BOOKED,
        EventKind.BOOKED,
        EventKind.BOOKING_MOVED,
        EventKind.BOOKING_CANCELLED,
    ]
    assert count(app, Case) == 0


BAD_SMS = [
    ("BOOK", "To book send BOOK DATE TIME, e.g. BOOK 2026-12-08 09:00"),
    ("BOOK hello", "To book send BOOK DATE TIME"),
    ("BOOK 2026-12-08 25:00", "Not done: '25:00' is not a time like 09:20"),
    ("BOOK 31/02 09:00", "Not done: '31/02' is not a date like 2026-12-03"),
    ("BOOK 2026-12-08 09:00 spa", "Not done: 'spa' is neither an office nor a purpose"),
    ("BOOK 2026-12-12 09:00", "Not done: town-hall has no slot on 2026-12-12"),
    ("BOOK CANCEL BKNOPE99", "Not done: no booking BKNOPE99"),
]


def test_a_bad_booking_sms_gets_a_clear_reply_and_nothing_is_booked(app, staff_client):
    citizens = count(app, Citizen)
    client = app.test_client()
    for body, expected in BAD_SMS:
        assert expected in reply_of(send_sms(client, body, sender="+393330000001")), body
    assert count(app, Booking) == 0 and count(app, Citizen) == citizens


def test_the_call_centre_books_and_cancels_for_a_caller(app, client):
    with get_db(app).session() as session:
        caller = make_citizen(session)
        agent = make_staff(session, role="agent", department=None)
        supervisor = make_staff(session, role="supervisor", department=None)
        session.commit()
    sign_in(client, supervisor.email)
    page = text(client.get(f"/office/bookings/{CODE}"))
    client.post(f"/office/bookings/{CODE}/publish", data={"csrf_token": csrf_token(page)})
    client.post("/office/logout", data={"csrf_token": csrf_token(page)})
    sign_in(client, agent.email)
    caller_page = text(client.get(f"/office/console/callers/{caller.id}"))
    assert f'href="/office/bookings/{CODE}/console?citizen_id={caller.id}"' in caller_page
    page = text(client.get(f"/office/bookings/{CODE}/console?citizen_id={caller.id}"))
    assert f'name="citizen_id" inputmode="numeric" value="{caller.id}"' in page
    assert "Town hall · 2026-12-08 09:00 (2)" in page
    data = {"csrf_token": csrf_token(page), "action": "book", "slot": SLOT, "purpose": "other"}
    done = client.post(f"/office/bookings/{CODE}/console", data=data | {"citizen_id": caller.id})
    assert done.status_code == 200 and "is on 2026-12-08 at 09:00 at Town hall" in text(done)
    unknown = client.post(f"/office/bookings/{CODE}/console", data=data | {"citizen_id": "999"})
    assert unknown.status_code == 400 and count(app, Booking) == 1
    [booking] = booked(app)
    assert (booking.channel, booking.citizen_id) == ("phone", caller.id)
    cancel = {"csrf_token": csrf_token(page), "action": "cancel", "reference": booking.reference}
    gone = client.post(f"/office/bookings/{CODE}/console", data=cancel)
    assert "is cancelled" in text(gone)
    assert booked(app)[0].status is BookingStatus.CANCELLED


def test_the_day_list_records_attended_and_no_show(app, staff_client):
    client = app.test_client()
    page = text(client.get(f"/bookings/{CODE}"))
    for email in ("a@example.org", "b@example.org"):
        client.post(
            f"/bookings/{CODE}",
            data={"csrf_token": csrf_token(page), "slot": SLOT, "email": email},
        )
    first, second = booked(app)
    day = text(staff_client.get(f"/office/bookings/{CODE}?office=town-hall&day=2026-12-08"))
    assert first.reference in day and second.reference in day
    early = staff_client.post(
        f"/office/bookings/{CODE}/{first.id}/attendance",
        data={"csrf_token": csrf_token(day), "outcome": "attended"},
        follow_redirects=True,
    )
    assert "has not started yet" in text(early)
    CLOCK.set(datetime(2026, 12, 8, 8, 10, tzinfo=UTC))
    for booking, outcome in ((first, "attended"), (second, "no_show")):
        staff_client.post(
            f"/office/bookings/{CODE}/{booking.id}/attendance",
            data={"csrf_token": csrf_token(day), "outcome": outcome},
        )
    assert [b.status for b in booked(app)] == [BookingStatus.ATTENDED, BookingStatus.NO_SHOW]
    assert count(app, Slot) > 0
