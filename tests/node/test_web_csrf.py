"""With CSRF protection on, as in production: a forged token is refused, a real one accepted."""

from node.database import get_db
from tests.factories import PASSWORD, make_staff
from tests.node.web import cheap_password_hashing, csrf_token, rows, text


def test_a_forged_csrf_token_is_refused_and_the_real_one_accepted(app, monkeypatch):
    cheap_password_hashing(monkeypatch)
    assert app.config.get("WTF_CSRF_ENABLED", True)
    with get_db(app).session() as session:
        email = make_staff(session).email
        session.commit()
    client = app.test_client()

    token = csrf_token(text(client.get("/office/login")))
    forged = client.post(
        "/office/login",
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": token[:-4] + "AAAA",
        },
    )
    assert forged.status_code == 400
    assert "security token was missing, expired or forged" in text(forged)
    missing = client.post("/office/login", data={"email": email, "password": "x"})
    assert missing.status_code == 400
    assert client.get("/office/").status_code == 302  # still signed out

    accepted = client.post(
        "/office/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
    )
    assert accepted.status_code == 302
    assert client.get("/office/").status_code == 200


def test_a_forged_portal_submission_writes_nothing(app):
    client = app.test_client()
    form = text(client.get("/services/noise-report"))
    before = rows(app)
    refused = client.post(
        "/services/noise-report",
        data={
            "csrf_token": "forged",
            "description": "Loud",
            "attr_source": "venue",
            "email": "x@example.org",
        },
    )
    assert refused.status_code == 400
    assert rows(app) == before
    sent = client.post(
        "/services/noise-report",
        data={"csrf_token": csrf_token(form), "description": "Loud", "attr_source": "venue"},
    )
    assert sent.status_code == 302
    assert rows(app)["cases"] == before["cases"] + 1
