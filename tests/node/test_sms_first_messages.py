"""Two first messages from a new number arriving at the same moment, as gateways deliver them:
two real requests in flight together, one profile for the number, both messages acted on."""

import threading
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from node.cases.models import Case
from node.database import get_db
from node.intake.sms import signature
from node.profiles.models import Citizen
from tests.factories import make_node_app

TOKEN = "gateway-auth-token"
PHONE = "+393471112233"
_sids = count(1)


def _post(app, body: str, start: threading.Barrier):
    params = {"MessageSid": f"SMfirst{next(_sids):026d}", "From": PHONE, "Body": body}
    signed = signature.compute("http://localhost/sms/inbound", params, TOKEN)
    client = app.test_client()
    start.wait()
    return client.post("/sms/inbound", data=params, headers={signature.HEADER: signed})


class HeldInsert:
    """Holds the first transaction that inserts the number's profile until the other one
    inserts it too, so that both have looked for the profile before either commits: the race
    the webhook must survive, made to happen every time."""

    def __init__(self, engine: sa.Engine) -> None:
        self.first: int | None = None
        self.other_inserting = threading.Event()
        self.lock = threading.Lock()
        sa.event.listen(engine, "before_cursor_execute", self.before)
        sa.event.listen(engine, "after_cursor_execute", self.after)

    @staticmethod
    def _inserts_citizen(statement: str) -> bool:
        return statement.lstrip().upper().startswith("INSERT INTO CITIZENS")

    def before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self._inserts_citizen(statement) and self.first not in (None, threading.get_ident()):
            self.other_inserting.set()

    def after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not self._inserts_citizen(statement):
            return
        with self.lock:
            if self.first is not None:
                return
            self.first = threading.get_ident()
        self.other_inserting.wait(timeout=30)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request, instance):
    overrides = {"SMS_AUTH_TOKEN": TOKEN}
    if request.param == "postgres":
        overrides["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = make_node_app(instance, **overrides)
    if request.param == "postgres":
        # SQLite lets one writer in at a time, so there the second request waits for the first;
        # PostgreSQL runs both at once, and the held insert makes them collide.
        HeldInsert(get_db(app).engine)
    yield app
    get_db(app).engine.dispose()


def test_two_first_messages_at_once_make_one_profile_and_both_are_answered(app):
    start = threading.Barrier(2)
    bodies = ["NOISE horns all night in Via Irnerio", "NOISE and the bar music too"]
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda body: _post(app, body, start), bodies))

    assert [r.status_code for r in responses] == [200, 200], [r.data for r in responses]
    codes = [ElementTree.fromstring(r.data).findtext("Message") for r in responses]
    with get_db(app).session() as session:
        [citizen] = session.scalars(sa.select(Citizen).where(Citizen.phone == PHONE)).all()
        opened = session.scalars(sa.select(Case).order_by(Case.id)).all()
    assert len(opened) == 2 and {c.citizen_id for c in opened} == {citizen.id}
    assert all(any(case.tracking_code in text for text in codes) for case in opened)
