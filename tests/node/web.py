"""Helpers for the node's web tests: signing in through the forms and counting what was written."""

import re

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from node.cases.models import Case, Event
from node.database import get_db
from node.profiles.models import Citizen
from node.staff import service as staff_service
from tests.factories import PASSWORD


def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with the lowest cost: the tests hash and check dozens of passwords."""
    monkeypatch.setattr(
        staff_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def sign_in_staff(client: FlaskClient, email: str, password: str = PASSWORD):
    """Sign a staff member in through the back-office form."""
    return client.post("/office/login", data={"email": email, "password": password})


def rows(app: Flask) -> dict[str, int]:
    """How many cases, events and citizen profiles the node's database holds."""
    with get_db(app).session() as session:
        return {
            model.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Case, Event, Citizen)
        }


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="(?:[\w-]*-)?csrf_token" type="hidden" value="([^"]+)"', html)
    if match is None:
        match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def text(response) -> str:
    """A response's body as text."""
    return response.get_data(as_text=True)


LINK = re.compile(r"/account/verify/([\w-]+)")


def sign_up(client: FlaskClient, app: Flask, data: dict, *, messages: list | None = None):
    """Sign up through the form and open the link its e-mail carries, as the address's owner
    would; returns the answer to the link (a redirect to the account once it exists)."""
    from node.profiles.views import SENDER

    sent = [] if messages is None else messages
    sending = app.extensions[SENDER]
    app.extensions[SENDER] = lambda **message: sent.append(message)
    try:
        asked = client.post("/account/signup", data=data)
        assert asked.status_code == 200, text(asked)
        links = [LINK.search(m["body"]) for m in sent if m["kind"] == "email"]
        assert links and links[-1], "no link was sent"
        opened = client.post(f"/account/verify/{links[-1].group(1)}")
        codes = [re.search(r"\b(\d{6})\b", m["body"]) for m in sent if m["kind"] == "phone"]
        if codes:  # the phone the sign-up gave, confirmed with the code sent to it
            client.post("/account/phone", data={"code": codes[-1].group(1)})
        return opened
    finally:
        app.extensions[SENDER] = sending
