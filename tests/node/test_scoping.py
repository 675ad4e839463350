"""Department scoping beyond the case pages: a caseworker reaches alerts, bookings and duplicates
of their own department only, whatever URL they type."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from node.alerts.models import Alert
from node.bookings import service as bookings
from node.bookings.models import Booking, BookingStatus
from node.bookings.tasks import current_settings
from node.cases.models import Case, CaseStatus
from node.cases.schemas import Actor
from node.database import get_db
from node.services import service as catalogue
from tests.factories import make_case, make_citizen, make_staff
from tests.node.web import cheap_password_hashing, sign_in_staff, text

ALERTS = "traffic-alerts"  # department mobility
BOOKINGS = "appointments"  # department registry


@pytest.fixture
def app(template_app, monkeypatch):
    cheap_password_hashing(monkeypatch)
    template_app.config["WTF_CSRF_ENABLED"] = False
    return template_app


@pytest.fixture
def people(app):
    with get_db(app).session() as session:
        made = {
            "mobility": make_staff(session, "caseworker", "mobility").email,
            "registry": make_staff(session, "caseworker", "registry").email,
            "environment": make_staff(session, "caseworker", "environment").email,
            "supervisor": make_staff(session, "supervisor").email,
        }
        session.commit()
    return made


def client_of(app, email):
    client = app.test_client()
    assert sign_in_staff(client, email).status_code == 302
    return client


def alert_form(**more):
    return {"topic": "road-works", "areas": ["city"], "text": "Via Stalingrado closed"} | more


def test_a_caseworker_publishes_alerts_only_on_their_departments_services(app, people):
    outsider = client_of(app, people["environment"])
    assert f"/office/alerts/{ALERTS}" not in text(outsider.get("/office/alerts"))
    assert outsider.get(f"/office/alerts/{ALERTS}").status_code == 404
    assert outsider.post(f"/office/alerts/{ALERTS}", data=alert_form()).status_code == 404
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Alert)) == 0

    insider = client_of(app, people["mobility"])
    assert f"/office/alerts/{ALERTS}" in text(insider.get("/office/alerts"))
    assert insider.post(f"/office/alerts/{ALERTS}", data=alert_form()).status_code == 302
    supervisor = client_of(app, people["supervisor"])
    assert supervisor.get(f"/office/alerts/{ALERTS}").status_code == 200


def test_a_caseworker_opens_only_their_departments_booking_day_list(app, people):
    with get_db(app).session() as session:
        service = catalogue.get(db_session=session, code=BOOKINGS)
        with app.app_context():
            settings = current_settings(BOOKINGS)
        bookings.generate_slots(
            db_session=session, service_code=BOOKINGS, settings=settings, actor=Actor.system()
        )
        free = bookings.free_times(db_session=session, service_code=BOOKINGS, settings=settings)
        citizen = make_citizen(session, name="Maria Bianchi", email="maria.bianchi@example.org")
        booking = bookings.book(
            db_session=session,
            service=service,
            settings=settings,
            citizen=citizen,
            office=free[0].office,
            starts_at=free[0].starts_at,
            purpose=None,
            channel="web",
            actor=Actor.citizen(),
        )
        session.commit()
        day = settings.local(booking.starts_at).date().isoformat()
        office, booking_id = booking.office, booking.id
    day_list = f"/office/bookings/{BOOKINGS}?office={office}&day={day}"

    outsider = client_of(app, people["environment"])
    refused = outsider.get(day_list)
    assert refused.status_code == 404 and "Maria Bianchi" not in text(refused)
    mark = f"/office/bookings/{BOOKINGS}/{booking_id}/attendance"
    assert outsider.post(mark, data={"outcome": "no_show"}).status_code == 404
    with get_db(app).session() as session:
        assert session.get(Booking, booking_id).status is BookingStatus.BOOKED

    insider = client_of(app, people["registry"])
    assert "Maria Bianchi" in text(insider.get(day_list))


def test_a_case_cannot_be_marked_a_duplicate_of_a_case_the_caseworker_cannot_see(app, people):
    with get_db(app).session() as session:
        mine = make_case(session, attributes={"source": "venue"})
        theirs = make_case(session, attributes={"source": "works"})  # building control
        session.commit()
        mine_id, theirs_code = mine.id, theirs.tracking_code
    client = client_of(app, people["environment"])
    refused = client.post(
        f"/office/cases/{mine_id}/mark_duplicate",
        data={"mark_duplicate-duplicate_of": theirs_code},
    )
    assert refused.status_code == 422
    assert "No case has this tracking code." in text(refused)  # it does not exist for them
    with get_db(app).session() as session:
        assert session.get(Case, mine_id).status is CaseStatus.NEW


def test_circular_duplicates_are_refused_and_the_original_lists_its_duplicates(app, people):
    with get_db(app).session() as session:
        first = make_case(session, attributes={"source": "venue"})
        second = make_case(session, attributes={"source": "venue"})
        session.commit()
        ids = first.id, second.id
        codes = first.tracking_code, second.tracking_code
    client = client_of(app, people["supervisor"])
    marked = client.post(
        f"/office/cases/{ids[1]}/mark_duplicate", data={"mark_duplicate-duplicate_of": codes[0]}
    )
    assert marked.status_code == 302
    page = text(client.get(f"/office/cases/{ids[0]}"))
    assert 'id="duplicates"' in page and codes[1] in page

    client.post(f"/office/cases/{ids[1]}/reopen", data={"reopen-reason": "Not the same lamp"})
    client.post(
        f"/office/cases/{ids[1]}/mark_duplicate", data={"mark_duplicate-duplicate_of": codes[0]}
    )
    circle = client.post(
        f"/office/cases/{ids[0]}/mark_duplicate", data={"mark_duplicate-duplicate_of": codes[1]}
    )
    assert circle.status_code == 422
    assert "That case is itself a duplicate of this one." in text(circle)
    with get_db(app).session() as session:
        assert session.get(Case, ids[0]).status is CaseStatus.NEW


def test_a_reopening_reason_stays_off_the_public_track_page(app, people):
    with get_db(app).session() as session:
        case = make_case(session)
        session.commit()
        case_id, code = case.id, case.tracking_code
    client = client_of(app, people["supervisor"])
    client.post(f"/office/cases/{case_id}/reject", data={"reject-reason": "Outside the city"})
    client.post(f"/office/cases/{case_id}/reopen", data={"reopen-reason": "Inspector J. is lazy"})
    assert "Inspector J. is lazy" in text(client.get(f"/office/cases/{case_id}"))
    public = text(app.test_client().get(f"/track?code={code}"))
    assert "Reopened" in public and "Inspector J. is lazy" not in public
    assert "Outside the city" in public  # a rejection's reason is the citizen's to read


@pytest.fixture(autouse=True)
def _monday():
    from node.database import CLOCK

    CLOCK.set(datetime(2026, 12, 7, 9, tzinfo=UTC))  # a Monday: the offices publish slots
    yield
    CLOCK.set(None)
