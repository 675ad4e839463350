"""The call-centre console: find a caller, read their history, open cases on their behalf."""

import re

import pytest
import sqlalchemy as sa

from node.cases import service as cases
from node.cases.models import ActorKind, Case, Event, EventKind
from node.cases.schemas import Actor
from node.database import get_db
from node.profiles import service as profiles
from node.profiles.models import Citizen, Organisation
from node.profiles.schemas import OrganisationData
from tests.factories import make_case, make_citizen, make_staff
from tests.node.web import cheap_password_hashing, csrf_token, rows, sign_in_staff, text

NOISE_BY_PHONE = {
    "description": "Building site starts at five in the morning",
    "attr_source": "works",
    "address": "Via del Pratello 12",
}


@pytest.fixture
def client(app, monkeypatch):
    """A test client on an app with CSRF off (test_web_csrf.py keeps it on)."""
    cheap_password_hashing(monkeypatch)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


@pytest.fixture
def world(app):
    """An agent, a caseworker, a caller with a past case and a note on it, and her business."""
    with get_db(app).session() as session:
        agent = make_staff(session, "agent")
        caseworker = make_staff(session, "caseworker", "environment")
        anna = make_citizen(session, name="Anna Bianchi", phone="+39 333 123 4567")
        past = make_case(session, citizen=anna, description="Scooters racing at night")
        cases.move(db_session=session, case=past, action="acknowledge", actor=Actor.system())
        cases.add_note(
            db_session=session, case=past, text="Called back, no answer", actor=Actor.system()
        )
        bar = profiles.create_organisation(
            db_session=session,
            data=OrganisationData(name="Bar Aurora", kind="sme"),
            contact=anna,
        )
        make_citizen(session, name="Marco Verdi")
        session.commit()
        return {
            "agent": agent.email,
            "agent_id": agent.id,
            "caseworker": caseworker.email,
            "anna": anna.id,
            "anna_email": anna.email,
            "past_code": past.tracking_code,
            "bar": bar.id,
        }


@pytest.mark.parametrize("typed", ["333 123 4567", "+393331234567", "ANNA", "Bianchi", "Aurora"])
def test_an_agent_finds_the_caller_by_phone_name_or_business(client, world, typed):
    sign_in_staff(client, world["agent"])
    page = text(client.get("/office/console/", query_string={"q": typed}))
    assert f'/office/console/callers/{world["anna"]}"' in page
    assert "Marco Verdi" not in page


def test_an_agent_finds_the_caller_by_email(client, world):
    sign_in_staff(client, world["agent"])
    page = text(client.get("/office/console/", query_string={"q": world["anna_email"].upper()}))
    assert "Anna Bianchi" in page and "Bar Aurora" in page


def test_nobody_found_offers_a_new_profile_with_what_was_typed(client, world):
    sign_in_staff(client, world["agent"])
    page = text(client.get("/office/console/", query_string={"q": "+39 051 219 3111"}))
    assert "Nobody matches" in page
    form = text(client.get("/office/console/callers/new", query_string={"q": "+39 051 219 3111"}))
    assert 'value="+39 051 219 3111"' in form


def test_the_caller_page_shows_every_case_and_archive_event(client, world):
    sign_in_staff(client, world["agent"])
    page = text(client.get(f"/office/console/callers/{world['anna']}"))
    assert world["past_code"] in page and "Acknowledged" in page
    history = page[page.index('id="history"') :]
    for label in ("Profile created", "Request submitted", "Acknowledged", "Internal note"):
        assert label in history
    assert "Called back, no answer" in history
    assert "Bar Aurora" in page and "Noise report" in page


def test_an_agent_opens_a_case_by_phone_on_the_callers_behalf(app, client, world):
    sign_in_staff(client, world["agent"])
    form_page = text(client.get(f"/office/console/callers/{world['anna']}/cases/new/noise-report"))
    assert "Where does the noise come from?" in form_page
    sent = client.post(
        f"/office/console/callers/{world['anna']}/cases/new/noise-report", data=NOISE_BY_PHONE
    )
    assert sent.status_code == 302
    page = text(client.get(sent.location))
    with get_db(app).session() as session:
        case = session.scalars(sa.select(Case).where(Case.description.like("Building%"))).one()
        submitted = session.scalars(
            sa.select(Event).where(Event.case_id == case.id, Event.kind == EventKind.SUBMITTED)
        ).one()
        assert case.channel == "phone" and case.citizen_id == world["anna"]
        assert case.organisation_id is None and case.department.code == "building-control"
        assert submitted.actor_kind is ActorKind.STAFF
        assert submitted.actor_staff_id == world["agent_id"] and submitted.channel == "phone"
        assert submitted.data["on_behalf"] is True
    assert f"Case {case.tracking_code} opened" in page


def test_an_agent_opens_a_business_case_with_its_contact_person(app, client, world):
    sign_in_staff(client, world["agent"])
    url = f"/office/console/callers/{world['anna']}/cases/new/noise-report"
    sent = client.post(url, data=NOISE_BY_PHONE | {"on_behalf": str(world["bar"])})
    assert sent.status_code == 302
    with get_db(app).session() as session:
        case = session.scalars(sa.select(Case).where(Case.organisation_id == world["bar"])).one()
        assert case.citizen_id == world["anna"] and case.channel == "phone"


def test_a_business_of_someone_else_is_refused_next_to_the_field(app, client, world):
    with get_db(app).session() as session:
        other = profiles.create_organisation(
            db_session=session, data=OrganisationData(name="Forno Rossi"), contact=None
        )
        session.commit()
        other_id = other.id
    sign_in_staff(client, world["agent"])
    before = rows(app)
    url = f"/office/console/callers/{world['anna']}/cases/new/noise-report"
    refused = client.post(url, data=NOISE_BY_PHONE | {"on_behalf": str(other_id)})
    assert refused.status_code == 422
    assert rows(app) == before


def test_a_missing_field_is_shown_next_to_it_with_the_values_kept(app, client, world):
    sign_in_staff(client, world["agent"])
    before = rows(app)
    url = f"/office/console/callers/{world['anna']}/cases/new/noise-report"
    refused = client.post(url, data=NOISE_BY_PHONE | {"attr_source": ""})
    page = text(refused)
    assert refused.status_code == 422
    assert re.search(r'id="attr_source-error">This field is required', page)
    assert "Building site starts at five in the morning" in page
    assert rows(app) == before


def test_an_agent_creates_a_profile_for_a_new_caller(app, client, world):
    sign_in_staff(client, world["agent"])
    sent = client.post(
        "/office/console/callers/new",
        data={
            "name": "Luca Neri",
            "phone": "333 765 4321",
            "preferred_channel": "sms",
            "language": "it",
            "consent_contact": "y",
        },
    )
    assert sent.status_code == 302
    with get_db(app).session() as session:
        luca = session.scalars(sa.select(Citizen).where(Citizen.name == "Luca Neri")).one()
        assert luca.phone == "+393337654321" and luca.password_hash is None
        created = session.scalars(
            sa.select(Event).where(
                Event.citizen_id == luca.id, Event.kind == EventKind.PROFILE_CREATED
            )
        ).one()
        assert created.actor_staff_id == world["agent_id"] and created.channel == "phone"
    assert sent.location.endswith(f"/office/console/callers/{luca.id}")


def test_a_new_caller_with_a_taken_phone_or_bad_email_writes_nothing(app, client, world):
    sign_in_staff(client, world["agent"])
    before = rows(app)
    taken = client.post(
        "/office/console/callers/new",
        data={"name": "Anna Again", "phone": "+393331234567", "preferred_channel": "sms"}
        | {"language": "it"},
    )
    assert taken.status_code == 422
    assert 'id="phone-error">Another profile already uses this.' in text(taken)
    assert 'value="Anna Again"' in text(taken)
    no_contact = client.post(
        "/office/console/callers/new",
        data={"name": "Nobody", "preferred_channel": "sms", "language": "it"},
    )
    assert no_contact.status_code == 422 and 'id="phone-error"' in text(no_contact)
    assert rows(app) == before


def test_an_agent_registers_a_business_for_the_caller(app, client, world):
    sign_in_staff(client, world["agent"])
    url = f"/office/console/callers/{world['anna']}/organisations/new"
    refused = client.post(url, data={"name": "", "kind": "sme"})
    assert refused.status_code == 422
    sent = client.post(url, data={"name": "Libreria Anna", "kind": "sme"})
    assert sent.status_code == 302
    with get_db(app).session() as session:
        shop = session.scalars(
            sa.select(Organisation).where(Organisation.name == "Libreria Anna")
        ).one()
        assert shop.contact_id == world["anna"]


def test_caseworkers_may_not_use_the_console_and_do_not_see_it(client, world):
    sign_in_staff(client, world["caseworker"])
    assert 'href="/office/console/"' not in text(client.get("/office/"))
    assert client.get("/office/console/").status_code == 403
    url = f"/office/console/callers/{world['anna']}/cases/new/noise-report"
    assert client.post(url, data=NOISE_BY_PHONE).status_code == 403


def test_agents_see_the_console_in_the_navigation(client, world):
    sign_in_staff(client, world["agent"])
    assert 'href="/office/console/"' in text(client.get("/office/"))


def test_the_console_form_needs_its_csrf_token(app, client, world):
    sign_in_staff(client, world["agent"])
    app.config["WTF_CSRF_ENABLED"] = True
    url = f"/office/console/callers/{world['anna']}/cases/new/noise-report"
    assert client.post(url, data=NOISE_BY_PHONE).status_code == 400
    token = csrf_token(text(client.get(url)))
    assert client.post(url, data=NOISE_BY_PHONE | {"csrf_token": token}).status_code == 302
