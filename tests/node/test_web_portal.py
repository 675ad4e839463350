"""The citizen portal: services, requests with or without an account, tracking, feedback."""

import pytest
import sqlalchemy as sa

from node.cases import service as cases
from node.cases.models import Case, CaseStatus
from node.cases.schemas import Actor
from node.database import get_db
from node.profiles.models import Citizen
from node.services import service as catalogue
from tests.factories import make_case, make_citizen
from tests.node.web import cheap_password_hashing, rows, sign_up, text

NOISE = "/services/noise-report"
VALID = {
    "description": "Drilling every morning at six",
    "attr_source": "works",
    "attr_night": "no",
    "address": "Via Irnerio 10",
}


@pytest.fixture
def client(app, monkeypatch):
    """A test client on an app with CSRF off (test_web_csrf.py keeps it on)."""
    cheap_password_hashing(monkeypatch)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


def _only_case(app) -> Case:
    with get_db(app).session() as session:
        return session.scalars(sa.select(Case)).one()


def test_the_portal_lists_the_installed_services_and_renders_their_attributes(client):
    home = text(client.get("/"))
    assert "Noise report" in home and 'href="/services/noise-report"' in home
    form = text(client.get(NOISE))
    assert "Where does the noise come from?" in form
    assert '<option value="works">Building works</option>' in form
    assert 'name="email"' in form and 'name="phone"' in form
    assert client.get("/services/no-such-service").status_code == 404


def test_an_anonymous_request_with_an_email_gets_a_tracking_code_and_a_minimal_profile(app, client):
    sent = client.post(NOISE, data=VALID | {"email": "Marco@Example.org"})
    assert sent.status_code == 302
    case = _only_case(app)
    page = text(client.get(sent.location))
    assert case.tracking_code in page and "We will tell you" in page
    assert case.channel == "web" and case.attributes == {"source": "works", "night": "no"}
    assert case.department.code == "building-control"
    with get_db(app).session() as session:
        citizen = session.get(Citizen, case.citizen_id)
        assert citizen.email == "marco@example.org" and citizen.password_hash is None


def test_an_anonymous_request_reuses_the_profile_with_that_contact(app, client):
    with get_db(app).session() as session:
        known = make_citizen(session, phone="+39 333 123 4567")
        known_id = known.id
        session.commit()
    before = rows(app)
    client.post(NOISE, data=VALID | {"phone": "333 1234567"})
    assert _only_case(app).citizen_id == known_id
    assert rows(app)["citizens"] == before["citizens"]


def test_a_request_without_contact_is_anonymous_and_told_to_keep_the_code(app, client):
    sent = client.post(NOISE, data=VALID)
    page = text(client.get(sent.location))
    assert "Keep this code" in page
    assert _only_case(app).citizen_id is None


def test_a_missing_or_invalid_field_is_shown_next_to_it_and_nothing_is_written(app, client):
    before = rows(app)
    missing = client.post(
        NOISE, data={"description": "Loud bar", "address": "Via Zamboni 1", "attr_source": ""}
    )
    assert missing.status_code == 422
    page = text(missing)
    assert 'id="attr_source-error"' in page
    assert "Loud bar</textarea>" in page and 'value="Via Zamboni 1"' in page

    bad_contact = client.post(NOISE, data=VALID | {"phone": "12", "email": "not-an-address"})
    assert bad_contact.status_code == 422
    page = text(bad_contact)
    assert 'id="email-error"' in page
    assert 'value="12"' in page and "Drilling every morning at six</textarea>" in page

    # The phone passes the form but not the profile rules: the error comes from the domain.
    bad_phone = client.post(NOISE, data=VALID | {"phone": "+39 12"})
    assert bad_phone.status_code == 422
    assert 'id="phone-error"' in text(bad_phone)
    assert rows(app) == before


def test_tracking_shows_the_status_and_public_replies_but_not_internal_notes(app, client):
    with get_db(app).session() as session:
        case = make_case(session)
        actor = Actor.system()
        cases.move(db_session=session, case=case, action="acknowledge", actor=actor)
        cases.add_note(db_session=session, case=case, text="Owner is difficult", actor=actor)
        cases.reply(db_session=session, case=case, text="An inspector will visit.", actor=actor)
        session.commit()
        code = case.tracking_code
    page = text(client.get(f"/track?code={code.lower()}"))
    assert code in page and "Acknowledged" in page and "An inspector will visit." in page
    assert "Owner is difficult" not in page

    unknown = client.get("/track?code=BO-000000")
    assert unknown.status_code == 404
    assert "No request has the tracking code BO-000000" in text(unknown)


def test_feedback_is_taken_once_a_case_is_closed_and_only_once(app, client):
    with get_db(app).session() as session:
        case = make_case(session)
        session.commit()
        code = case.tracking_code
    assert 'name="score"' not in text(client.get(f"/track?code={code}"))
    early = client.post(f"/track/{code}/feedback", data={"score": "4"}, follow_redirects=True)
    assert "once it is closed" in text(early)

    with get_db(app).session() as session:
        case = session.scalars(sa.select(Case)).one()
        for action in ("acknowledge", "resolve"):
            cases.move(db_session=session, case=case, action=action, actor=Actor.system())
        session.commit()
    assert 'name="score"' in text(client.get(f"/track?code={code}"))
    assert client.post(f"/track/{code}/feedback", data={"score": "9"}).status_code == 422
    thanked = client.post(f"/track/{code}/feedback", data={"score": "4"}, follow_redirects=True)
    page = text(thanked)
    assert "Thank you for your feedback." in page and "Rated 4 out of 5." in page
    assert 'name="score"' not in page
    before = rows(app)
    again = client.post(f"/track/{code}/feedback", data={"score": "1"}, follow_redirects=True)
    assert "already rated" in text(again)
    assert rows(app) == before
    assert _only_case(app).status is CaseStatus.RESOLVED


def test_the_language_follows_the_browser_then_the_choice_then_the_citizen(app, client):
    italian = text(client.get("/", headers={"Accept-Language": "it-IT,it;q=0.9,en;q=0.5"}))
    assert "Servizi" in italian and 'lang="it"' in italian
    assert 'lang="en"' in text(client.get("/", headers={"Accept-Language": "de, en;q=0.5"}))

    client.get("/?lang=en", headers={"Accept-Language": "it"})
    assert 'lang="en"' in text(client.get("/track", headers={"Accept-Language": "it"}))
    client.get("/?lang=xx")  # not offered: ignored, the earlier choice stays
    assert 'lang="en"' in text(client.get("/", headers={"Accept-Language": "it"}))

    sign_up(
        client,
        app,
        {
            "email": "anna@example.org",
            "language": "it",
            "preferred_channel": "email",
            "consent_contact": "y",
            "password": "long enough pass",
            "confirm": "long enough pass",
        },
    )
    assert 'lang="it"' in text(client.get("/account/"))


SURVEY = """
code = "tree-survey"
name = "Tree survey"
domain = "environment"
department = "parks"
channels = ["web"]
sla_hours = 240

[[attributes]]
code = "count"
datatype = "number"
description = "How many trees?"
required = true

[[attributes]]
code = "seen_at"
datatype = "datetime"
description = "When did you see them?"

[[attributes]]
code = "kinds"
datatype = "multivaluelist"
description = "Which kinds?"
values = [
  { key = "oak", name = "Oak" },
  { key = "lime", name = "Lime" },
  { key = "plane", name = "Plane" },
]

[[attributes]]
code = "notes"
datatype = "text"
description = "Anything else?"
"""


def test_every_open311_datatype_becomes_a_field_and_is_checked(app, client, instance):
    folder = instance / "services" / "tree-survey"
    folder.mkdir()
    (folder / "service.toml").write_text(SURVEY, encoding="utf-8")
    with get_db(app).session() as session:
        catalogue.load_catalogue(db_session=session, services_dir=instance / "services")
        session.commit()
    form = text(client.get("/services/tree-survey"))
    assert 'type="number"' in form and 'type="datetime-local"' in form
    assert 'type="checkbox"' in form and 'value="plane"' in form and "<textarea" in form

    before = rows(app)
    answers = {"description": "Three trees in the courtyard", "attr_kinds": ["oak", "plane"]}
    not_a_number = client.post("/services/tree-survey", data=answers | {"attr_count": "three"})
    assert not_a_number.status_code == 422
    page = text(not_a_number)
    assert 'id="attr_count-error"' in page and "is not a number" in page
    assert 'checked id="attr_kinds-2"' in page  # the ticked boxes stay ticked
    assert rows(app) == before

    sent = client.post(
        "/services/tree-survey",
        data={
            "description": "Three trees in the courtyard",
            "attr_count": "3",
            "attr_seen_at": "2026-11-29T16:30",
            "attr_kinds": ["oak", "plane"],
            "attr_notes": "One looks ill",
        },
    )
    assert sent.status_code == 302
    assert _only_case(app).attributes == {
        "count": 3.0,
        "seen_at": "2026-11-29T16:30:00",
        "kinds": ["oak", "plane"],
        "notes": "One looks ill",
    }


SIGNUP = {
    "name": "Anna Bianchi",
    "email": "anna.bianchi@example.org",
    "phone": "+39 333 987 6543",
    "preferred_channel": "email",
    "language": "en",
    "consent_contact": "y",
    "password": "a long citizen password",
    "confirm": "a long citizen password",
}


def test_a_tracking_code_shows_others_the_replies_redacted_and_the_citizen_in_full(app, client):
    # A published request's tracking code is public (its Open311 id): whoever types it in
    # reads the city's replies as the API shows them; the citizen signed in reads them whole.
    assert sign_up(client, app, SIGNUP).status_code == 302
    assert client.post(NOISE, data=VALID).status_code == 302
    reply = "Dear Anna Bianchi, we will call you on 333 987 6543 about Via Irnerio 10."
    with get_db(app).session() as session:
        case = session.scalars(sa.select(Case)).one()
        cases.reply(db_session=session, case=case, text=reply, actor=Actor.system())
        session.commit()
        code = case.tracking_code
    own = text(client.get(f"/track?code={code}"))
    assert "Dear Anna Bianchi, we will call you on 333 987 6543 about Via Irnerio 10." in own
    stranger = app.test_client()
    theirs = text(stranger.get(f"/track?code={code}"))
    assert code in theirs
    for personal in ("Anna", "Bianchi", "987", "Irnerio 10"):
        assert personal not in theirs
    assert "we will call you on [phone] about [address]." in theirs
