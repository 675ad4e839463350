"""A member of staff who forgot their password chooses a new one from a link e-mailed to them.

The link travels through a real SMTP server on loopback; using it ends every session of the
account, and it works once.
"""

import re

import pytest

from node.database import get_db
from tests.factories import PASSWORD, make_node_app, make_staff
from tests.node.web import cheap_password_hashing, sign_in_staff, text

CARLA = "carla@example.org"
NEW = "a brand new staff password"


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
    with get_db(app).session() as session:
        carla = make_staff(session, role="caseworker", email=CARLA)
        carla.must_change_password = False
        gone = make_staff(session, role="caseworker", email="gone@example.org")
        gone.active = False
        session.commit()
    yield app, inbox
    get_db(app).engine.dispose()


def link_in(inbox, to: str) -> str:
    """The path of the last reset link e-mailed to an address."""
    bodies = [m.get_content() for m in inbox.messages if m["To"] == to]
    assert bodies, f"no e-mail to {to}"
    match = re.search(r"https://bologna\.example(/office/reset/[\w.-]+)", bodies[-1])
    assert match, bodies[-1]
    return match.group(1)


def test_a_staff_password_is_reset_through_the_e_mail_and_every_session_ends(node):
    app, inbox = node
    desk = app.test_client()
    assert sign_in_staff(desk, CARLA).status_code == 302
    assert desk.get("/office/").status_code == 200
    assert "/office/reset" in text(app.test_client().get("/office/login"))

    answers = [
        app.test_client().post("/office/reset", data={"email": email})
        for email in ("nobody@example.org", "gone@example.org", " Carla@Example.org ")
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert (
        len(
            {
                text(a).replace(e, "")
                for a, e in zip(
                    answers,
                    ("nobody@example.org", "gone@example.org", "carla@example.org"),
                    strict=True,
                )
            }
        )
        == 1
    ), "the answer never tells"
    assert [m["To"] for m in inbox.messages] == [CARLA], "only an active account gets a link"
    mail = inbox.messages[0]
    assert "choose a new password" in mail["Subject"] and mail["Date"]

    link = link_in(inbox, CARLA)
    phone = app.test_client()
    assert "New password" in text(phone.get(link))
    short = phone.post(link, data={"new": "short", "confirm": "short"})
    assert short.status_code == 422
    chosen = phone.post(link, data={"new": NEW, "confirm": NEW})
    assert chosen.status_code == 302 and chosen.location.endswith("/office/login")

    assert desk.get("/office/").status_code == 302, "the session signed in before has ended"
    assert sign_in_staff(app.test_client(), CARLA, PASSWORD).status_code == 401
    assert sign_in_staff(app.test_client(), CARLA, NEW).status_code == 302
    used = app.test_client().post(link, data={"new": NEW + "!", "confirm": NEW + "!"})
    assert used.status_code == 404 and "ask for a new one" in text(used)


def test_a_forged_or_tampered_reset_link_is_refused(node):
    app, inbox = node
    app.test_client().post("/office/reset", data={"email": CARLA})
    link = link_in(inbox, CARLA)
    for forged in ("/office/reset/not-a-token", link[:-3] + "abc", link + "x"):
        refused = app.test_client().post(forged, data={"new": NEW, "confirm": NEW})
        assert refused.status_code == 404, forged
    assert sign_in_staff(app.test_client(), CARLA, PASSWORD).status_code == 302


class CountingHasher:
    """argon2 at its lowest cost, counting the hashes it checks."""

    def __init__(self) -> None:
        from argon2 import PasswordHasher

        self.inner = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        self.verified = 0

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        self.verified += 1
        return self.inner.verify(stored, password)


def test_signing_in_does_the_same_work_for_unknown_disabled_and_known_e_mails(node, monkeypatch):
    from node.staff import service as staff_service

    app, _inbox = node
    hasher = CountingHasher()
    monkeypatch.setattr(staff_service, "_hasher", hasher)
    checked = {}
    for email in ("nobody@example.org", "gone@example.org", CARLA):
        before = hasher.verified
        assert sign_in_staff(app.test_client(), email, "wrong password").status_code == 401
        checked[email] = hasher.verified - before
    for email in ("nobody@example.org", "anna.citizen@example.org"):
        before = hasher.verified
        answer = app.test_client().post(
            "/account/login", data={"email": email, "password": "wrong password"}
        )
        assert answer.status_code == 401
        checked[f"citizen {email}"] = hasher.verified - before
    assert set(checked.values()) == {1}, checked


def test_asking_for_reset_links_is_limited_per_address_and_per_account(tmp_path, monkeypatch):
    cheap_password_hashing(monkeypatch)
    app = make_node_app(tmp_path / "node", WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=True)
    with get_db(app).session() as session:
        make_staff(session, role="caseworker", email=CARLA)
        session.commit()
    # One address asking for many accounts' links, then many addresses asking for one account.
    from_one = [
        app.test_client().post("/office/reset", data={"email": f"{n}@example.org"}).status_code
        for n in range(6)
    ]
    for_one = [
        app.test_client()
        .post("/office/reset", data={"email": CARLA}, environ_base={"REMOTE_ADDR": f"10.0.1.{n}"})
        .status_code
        for n in range(6)
    ]
    assert from_one == [200] * 5 + [429] and for_one == [200] * 5 + [429]
    get_db(app).engine.dispose()
