"""A citizen's account: sign-up, sign-in, history, preferences and consent, export, erasure."""

import json

import pytest
import sqlalchemy as sa

from node.cases.models import Case
from node.database import get_db
from node.profiles.models import Citizen
from tests.node.web import cheap_password_hashing, rows, sign_up, text

PASSWORD = "a long citizen password"
SIGNUP = {
    "name": "Anna Bianchi",
    "email": "anna@example.org",
    "phone": "",
    "preferred_channel": "email",
    "language": "en",
    "district": "Navile",
    "birth_year": "1990",
    "consent_contact": "y",
    "password": PASSWORD,
    "confirm": PASSWORD,
}
REQUEST = {"description": "Bar music until 3am", "attr_source": "venue", "address": "Via Zamboni 1"}


@pytest.fixture
def client(app, monkeypatch):
    """A test client on an app with CSRF off (test_web_csrf.py keeps it on)."""
    cheap_password_hashing(monkeypatch)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


def _citizen(app, email: str) -> Citizen | None:
    with get_db(app).session() as session:
        return session.scalar(sa.select(Citizen).where(Citizen.email == email))


def test_a_citizen_signs_up_sends_a_request_and_sees_their_history(app, client):
    signed_up = sign_up(client, app, SIGNUP)
    assert signed_up.status_code == 302
    sent = client.post("/services/noise-report", data=REQUEST)
    assert sent.status_code == 302
    home = text(client.get("/account/"))
    with get_db(app).session() as session:
        case = session.scalars(sa.select(Case)).one()
    assert case.citizen_id == _citizen(app, "anna@example.org").id
    assert case.tracking_code in home and "Bar music until 3am" in home
    assert "Profile created" in home and "Request submitted" in home

    client.post("/account/logout")
    assert client.get("/account/").status_code == 302
    wrong = client.post("/account/login", data={"email": "anna@example.org", "password": "nope"})
    assert wrong.status_code == 401 and "Wrong e-mail or password." in text(wrong)
    right = client.post("/account/login", data={"email": "ANNA@example.org", "password": PASSWORD})
    assert right.status_code == 302


def test_a_signed_in_citizen_is_not_asked_for_contact_details(app, client):
    sign_up(client, app, SIGNUP)
    form = text(client.get("/services/noise-report"))
    assert 'name="email"' not in form and "Signed in as Anna Bianchi" in form


def test_sign_up_with_a_bad_phone_or_differing_passwords_shows_the_error_and_writes_nothing(
    app, client
):
    before = rows(app)
    bad = client.post("/account/signup", data=SIGNUP | {"email": "new@example.org", "phone": "1"})
    assert bad.status_code == 422
    assert 'id="phone-error"' in text(bad) and 'value="Anna Bianchi"' in text(bad)
    differ = client.post("/account/signup", data=SIGNUP | {"confirm": "something else entirely"})
    assert "The two passwords differ." in text(differ)
    assert rows(app) == before


def test_preferences_and_consent_are_changed_and_recorded(app, client):
    sign_up(client, app, SIGNUP)
    page = text(client.get("/account/preferences"))
    assert 'value="Anna Bianchi"' in page
    changed = client.post(
        "/account/preferences",
        data=SIGNUP | {"language": "it", "consent_profiling": "y", "district": ""},
        follow_redirects=True,
    )
    assert "Le tue preferenze sono state salvate." in text(changed)  # now in Italian
    citizen = _citizen(app, "anna@example.org")
    assert citizen.language == "it" and citizen.consent_profiling and citizen.district is None
    assert "Consenso modificato" in text(client.get("/account/"))

    before = rows(app)
    refused = client.post("/account/preferences", data=SIGNUP | {"birth_year": "1700"})
    assert refused.status_code == 422 and 'id="birth_year-error"' in text(refused)
    assert rows(app) == before


def test_a_citizen_downloads_their_data_as_json(app, client):
    sign_up(client, app, SIGNUP)
    client.post("/services/noise-report", data=REQUEST)
    download = client.post("/account/export")
    assert download.mimetype == "application/json"
    assert "attachment" in download.headers["Content-Disposition"]
    data = json.loads(download.get_data())
    assert data["profile"]["email"] == "anna@example.org"
    assert data["cases"][0]["description"] == "Bar music until 3am"
    assert client.get("/account/export").status_code == 405  # a download is recorded: POST only


def test_erasure_needs_confirmation_and_the_password(app, client):
    sign_up(client, app, SIGNUP)
    client.post("/services/noise-report", data=REQUEST)
    assert "cannot be restored" in text(client.get("/account/erase"))

    before = rows(app)
    unconfirmed = client.post("/account/erase", data={"password": PASSWORD})
    assert unconfirmed.status_code == 422 and 'id="confirm-error"' in text(unconfirmed)
    wrong = client.post("/account/erase", data={"password": "guess", "confirm": "y"})
    assert "The password is wrong." in text(wrong)
    assert rows(app) == before

    erased = client.post(
        "/account/erase", data={"password": PASSWORD, "confirm": "y"}, follow_redirects=True
    )
    assert "Your profile was erased." in text(erased)
    assert _citizen(app, "anna@example.org") is None
    with get_db(app).session() as session:
        assert session.scalars(sa.select(Case)).one().citizen_id is None
    assert client.get("/account/").status_code == 302  # signed out
    login = client.post("/account/login", data={"email": "anna@example.org", "password": PASSWORD})
    assert login.status_code == 401
