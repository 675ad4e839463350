"""Contacts are proven before anything is attached to them: sign-up, contact change, reset.

The links travel through a real SMTP server on loopback; the SMS gateway is the one stand-in.
"""

import re

import pytest
import sqlalchemy as sa

from node.cases.models import Case
from node.database import get_db
from node.messaging.adapters import Adapters, adapters_from
from node.messaging.tasks import use_adapters
from node.profiles.models import Citizen
from tests.factories import make_node_app
from tests.node.web import cheap_password_hashing, text

PASSWORD = "a long citizen password"
VICTIM = "anna@example.org"
SIGNUP = {
    "name": "Impostor",
    "email": VICTIM,
    "phone": "",
    "preferred_channel": "email",
    "language": "en",
    "consent_contact": "y",
    "password": PASSWORD,
    "confirm": PASSWORD,
}
NOISE = "/services/noise-report"
REQUEST = {"description": "Bar music until 3am", "attr_source": "venue", "address": "Via Zamboni 1"}


class Gateway:
    """The SMS gateway at the edge of the world: keeps what it is asked to send."""

    name = "test"

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def send(self, *, to: str, body: str) -> None:
        self.sent.append({"to": to, "body": body})


@pytest.fixture
def node(instance, smtp, monkeypatch):
    cheap_password_hashing(monkeypatch)
    controller, inbox = smtp
    app = make_node_app(
        instance,
        WTF_CSRF_ENABLED=False,
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=controller.port,
        PUBLIC_URL="https://bologna.example",
    )
    gateway = Gateway()
    use_adapters(app, Adapters(email=adapters_from(app.config).email, sms=gateway))
    yield app, inbox, gateway
    get_db(app).engine.dispose()


def link_in(inbox, to: str) -> str:
    """The path of the last link e-mailed to an address."""
    bodies = [m.get_content() for m in inbox.messages if m["To"] == to]
    assert bodies, f"no e-mail to {to}"
    match = re.search(r"https://bologna\.example(/account/verify/[\w-]+)", bodies[-1])
    assert match, bodies[-1]
    return match.group(1)


def cases_of(app, email: str) -> list[str]:
    with get_db(app).session() as session:
        return list(
            session.scalars(sa.select(Case.description).join(Citizen).where(Citizen.email == email))
        )


def test_an_unverified_sign_up_cannot_take_over_the_requests_someone_sends_later(node):
    app, inbox, _gateway = node
    impostor = app.test_client()
    asked = impostor.post("/account/signup", data=SIGNUP)
    assert asked.status_code == 200 and "Check your e-mail" in text(asked)
    assert impostor.get("/account/").status_code == 302  # no account, not signed in
    refused = impostor.post("/account/login", data={"email": VICTIM, "password": PASSWORD})
    assert refused.status_code == 401

    # The owner of the address writes anonymously: the request is not the impostor's.
    anna = app.test_client()
    assert anna.post(NOISE, data=REQUEST | {"email": VICTIM}).status_code == 302
    assert (
        impostor.post("/account/login", data={"email": VICTIM, "password": PASSWORD}).status_code
        == 401
    )
    with get_db(app).session() as session:
        owner = session.scalars(sa.select(Citizen).where(Citizen.email == VICTIM)).one()
        assert owner.password_hash is None and owner.name is None

    # Only the address's owner reads the link; with it, the sign-up is hers and so is the request.
    link = link_in(inbox, VICTIM)
    assert "Confirm" in text(anna.get(link))
    opened = anna.post(link)
    assert opened.status_code == 302
    home = text(anna.get("/account/"))
    assert "Bar music until 3am" in home
    assert anna.post(link).status_code == 404  # a link is used once


def test_a_person_who_wrote_before_signs_up_and_finds_their_requests(node):
    app, inbox, _gateway = node
    anna = app.test_client()
    anna.post(NOISE, data=REQUEST | {"email": VICTIM})
    asked = anna.post("/account/signup", data=SIGNUP | {"name": "Anna Bianchi"})
    assert asked.status_code == 200
    anna.post(link_in(inbox, VICTIM))
    assert "Hello, Anna Bianchi" in text(anna.get("/account/"))
    assert cases_of(app, VICTIM) == ["Bar music until 3am"]
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Citizen)) == 1


def test_a_new_phone_is_set_once_its_code_is_typed_and_brings_the_sms_requests_along(node):
    app, inbox, gateway = node
    stranger = app.test_client()
    stranger.post(NOISE, data=REQUEST | {"phone": "333 765 4321", "description": "Glass at 4am"})
    anna = app.test_client()
    anna.post("/account/signup", data=SIGNUP | {"name": "Anna Bianchi"})
    anna.post(link_in(inbox, VICTIM))
    changed = anna.post("/account/preferences", data=SIGNUP | {"phone": "333 765 4321"})
    assert changed.headers["Location"].endswith("/account/phone")
    assert cases_of(app, VICTIM) == []  # nothing joins before the code
    wrong = anna.post("/account/phone", data={"code": "000000x"})
    assert wrong.status_code == 422 and "This code is wrong." in text(wrong)
    code = re.search(r"\b(\d{6})\b", gateway.sent[-1]["body"]).group(1)
    assert gateway.sent[-1]["to"] == "+393337654321"
    assert anna.post("/account/phone", data={"code": code}).status_code == 302
    assert cases_of(app, VICTIM) == ["Glass at 4am"]


def test_a_password_is_reset_through_the_e_mail_and_old_sessions_end(node):
    app, inbox, _gateway = node
    anna = app.test_client()
    anna.post("/account/signup", data=SIGNUP)
    anna.post(link_in(inbox, VICTIM))
    other_device = app.test_client()
    other_device.post("/account/login", data={"email": VICTIM, "password": PASSWORD})
    assert other_device.get("/account/").status_code == 200

    unknown = app.test_client().post("/account/reset", data={"email": "nobody@example.org"})
    known = app.test_client().post("/account/reset", data={"email": VICTIM})
    assert unknown.status_code == known.status_code == 200
    assert "If an account uses" in text(unknown) and "If an account uses" in text(known)
    assert not [m for m in inbox.messages if m["To"] == "nobody@example.org"]

    link = link_in(inbox, VICTIM)
    page = app.test_client()
    chosen = page.post(link, follow_redirects=True)  # a reset link leads to the password form
    assert "New password" in text(chosen)
    new = "another long password"
    reset_path = link.replace("/verify/", "/reset/")
    assert page.post(reset_path, data={"password": new, "confirm": new}).status_code == 302
    assert other_device.get("/account/").status_code == 302  # signed out everywhere
    assert (
        page.post("/account/login", data={"email": VICTIM, "password": PASSWORD}).status_code == 401
    )
    assert page.post("/account/login", data={"email": VICTIM, "password": new}).status_code == 302


def test_signing_out_ends_the_session_on_every_device(node):
    app, inbox, _gateway = node
    anna = app.test_client()
    anna.post("/account/signup", data=SIGNUP)
    anna.post(link_in(inbox, VICTIM))
    laptop = app.test_client()
    laptop.post("/account/login", data={"email": VICTIM, "password": PASSWORD})
    with anna.session_transaction() as stolen:
        copied = dict(stolen)
    anna.post("/account/logout")
    assert laptop.get("/account/").status_code == 302
    thief = app.test_client()
    with thief.session_transaction() as session:
        session.update(copied)
    assert thief.get("/account/").status_code == 302
