"""A consultation as citizens, staff and an auditor of its anonymity see it: take part once on the
portal or by SMS, within the dates, verified and old enough; results only once it is closed; and
no row anywhere that joins a citizen to the option they chose."""

import html
import json
from datetime import UTC, datetime
from itertools import count
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from node.cases.models import Case, Event, EventKind
from node.cases.schemas import Actor
from node.celery_app import get_celery
from node.consultations.models import ContactCheck, Participation, TallyCount
from node.consultations.tasks import CLOSE_DUE
from node.database import CLOCK, Base, get_db
from node.errors import InvalidInput
from node.instance import load_services
from node.intake import service as intake
from node.intake.sms import signature
from node.messaging.adapters import Adapters
from node.messaging.tasks import use_adapters
from node.profiles import service as profiles
from node.profiles.models import Citizen
from node.staff.service import hash_password
from service_templates.engine import PACKAGE_TEMPLATES, new_service
from tests.factories import PASSWORD, make_citizen, make_node_app, make_staff
from tests.node.web import cheap_password_hashing, sign_in_staff
from tests.node.web import text as raw_text

TOKEN = "gateway-auth-token"
CODE = "consultation"
OPTIONS = ["cycle-lanes", "new-park", "library-hours", "street-lighting"]
DURING = datetime(2027, 3, 10, 12, tzinfo=UTC)
# 23:30 UTC on 31 March is already 1 April in Rome: the dates are the city's days.
AFTER = datetime(2027, 3, 31, 23, 30, tzinfo=UTC)
_sids = count(1)
_phones = count(1)


class Outbox:
    """An SMS gateway and mail sender that keep what they are asked to send."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def send(self, **message: str) -> None:
        self.sent.append(message)


@pytest.fixture
def app(instance, monkeypatch):
    cheap_password_hashing(monkeypatch)
    app = make_node_app(
        instance, SMS_AUTH_TOKEN=TOKEN, WTF_CSRF_ENABLED=False, TIMEZONE="Europe/Rome"
    )
    new_service(
        root=PACKAGE_TEMPLATES,
        template="consultation",
        services_dir=instance / "services",
        city={"city_name": "Bologna", "country": "IT", "languages": "en"},
        node_channels=["web", "app", "sms", "email", "phone", "counter"],
        assignments={"opens_on": "2027-03-01", "closes_on": "2027-03-31", "minimum_age": "16"},
    )
    assert not load_services(app).errors
    outbox = Outbox()
    use_adapters(app, Adapters(email=outbox, sms=outbox))
    app.extensions["test.outbox"] = outbox
    CLOCK.set(DURING)
    yield app
    CLOCK.set(None)
    get_db(app).engine.dispose()


def text(response) -> str:
    """A page as the reader sees it: entities such as &#39; read as characters."""
    return html.unescape(raw_text(response))


def session_of(app):
    return get_db(app).session()


def staff_client(app, role="supervisor"):
    with session_of(app) as session:
        user = make_staff(session, role=role)
        session.commit()
        email = user.email
    client = app.test_client()
    sign_in_staff(client, email)
    return client


def open_consultation(app):
    response = staff_client(app).post(f"/office/consultations/{CODE}/open", follow_redirects=True)
    assert "The consultation is open." in text(response)


def citizen(app, *, born=1990, account=True, **values):
    """A citizen profile with an account (password) and a mobile phone, reading English as
    the service's texts are written."""
    values.setdefault("language", "en")
    with session_of(app) as session:
        person = make_citizen(
            session, birth_year=born, phone=f"+39333{next(_phones):07d}", **values
        )
        if account:
            person.password_hash = hash_password(PASSWORD)
        session.commit()
        return {"id": person.id, "email": person.email, "phone": person.phone, "name": person.name}


def signed_in(app, person, *, verified=True):
    client = app.test_client()
    client.post("/account/login", data={"email": person["email"], "password": PASSWORD})
    if verified:
        outbox = app.extensions["test.outbox"]
        client.post(f"/consultations/{CODE}/code", data={"kind": "phone"})
        code = outbox.sent[-1]["body"].split("code is ")[1][:6]
        assert outbox.sent[-1]["to"] == person["phone"]
        response = client.post(f"/consultations/{CODE}/confirm", data={"code": code})
        assert response.status_code == 302, text(response)
    return client


def send_sms(app, body, sender):
    params = {"MessageSid": f"SM{next(_sids):032d}", "From": sender, "Body": body}
    signed = signature.compute("http://localhost/sms/inbound", params, TOKEN)
    response = app.test_client().post(
        "/sms/inbound", data=params, headers={signature.HEADER: signed}
    )
    assert response.status_code == 200
    return ElementTree.fromstring(response.data).findtext("Message") or ""


def tally(app) -> dict[str, int]:
    with session_of(app) as session:
        return dict(session.execute(sa.select(TallyCount.option, TallyCount.count)).all())


def stored(app) -> dict[str, int]:
    """What a participation would write: register rows, counted answers, events, cases."""
    with session_of(app) as session:
        return {
            "participations": session.scalar(sa.select(sa.func.count(Participation.id))),
            "counted": sum(tally(app).values()),
            "events": session.scalar(sa.select(sa.func.count(Event.id))),
            "cases": session.scalar(sa.select(sa.func.count(Case.id))),
            "citizens": session.scalar(sa.select(sa.func.count(Citizen.id))),
        }


def close_by_beat(app):
    with app.app_context():
        return get_celery(app).tasks[CLOSE_DUE].apply().get()


def test_a_verified_citizen_takes_part_on_the_portal_and_results_show_only_once_closed(app):
    open_consultation(app)
    person = citizen(app)
    client = signed_in(app, person)
    page = text(client.get(f"/consultations/{CODE}"))
    assert "Which project should the city fund first?" in page
    assert 'value="new-park"' in page and "A new park" in page

    response = client.post(f"/consultations/{CODE}", data={"option": "new-park"})
    assert response.status_code == 302
    page = text(client.get(f"/consultations/{CODE}"))
    assert "your answer to Which project should the city fund first? is counted" in page
    assert "You have taken part" in page
    assert "Results" not in page.split("</h2>", 1)[1]  # no results table while open
    office = text(staff_client(app).get("/office/consultations"))
    assert "new-park: 1" not in office  # staff do not see them early either
    with session_of(app) as session:
        event = session.scalars(sa.select(Event).where(Event.kind == EventKind.PARTICIPATED)).one()
        assert (event.citizen_id, event.channel, event.service_code) == (person["id"], "web", CODE)
        assert event.data == {}

    CLOCK.set(AFTER)
    assert close_by_beat(app) != [] and close_by_beat(app) == []  # a second run finds nothing
    page = text(app.test_client().get(f"/consultations/{CODE}"))
    assert '<td data-option="new-park">A new park</td><td>1</td>' in page
    assert '<td data-option="cycle-lanes">New cycle lanes</td><td>0</td>' in page
    with session_of(app) as session:
        closed = session.scalars(
            sa.select(Event).where(Event.kind == EventKind.CONSULTATION_CLOSED)
        ).one()
    assert closed.data["totals"] == {option: int(option == "new-park") for option in OPTIONS}
    assert closed.service_code == CODE and closed.citizen_id is None


def test_a_citizen_takes_part_by_sms_from_the_phone_in_their_profile(app):
    open_consultation(app)
    person = citizen(app)
    reply = send_sms(app, "vote Cycle-Lanes", person["phone"])
    assert "is counted" in reply and "cycle-lanes" not in reply.lower()
    assert tally(app)["cycle-lanes"] == 1
    with session_of(app) as session:
        event = session.scalars(sa.select(Event).where(Event.kind == EventKind.PARTICIPATED)).one()
        assert (event.citizen_id, event.channel) == (person["id"], "sms")


def test_bad_sms_input_gets_a_clear_reply_and_stores_nothing(app):
    open_consultation(app)
    person = citizen(app)
    before = stored(app)
    assert "Options: cycle-lanes, new-park" in send_sms(app, "VOTE", person["phone"])
    assert "Options: cycle-lanes" in send_sms(app, "VOTE new park please", person["phone"])
    assert "'banana' is not an option" in send_sms(app, "VOTE banana", person["phone"])
    assert "We do not know this phone" in send_sms(app, "VOTE new-park", "+393339999999")
    assert stored(app) == before  # no participation, no count, no profile for the stranger


def test_a_second_participation_is_refused_on_every_channel(app):
    open_consultation(app)
    person = citizen(app)
    client = signed_in(app, person)
    assert client.post(f"/consultations/{CODE}", data={"option": "new-park"}).status_code == 302
    before = stored(app)
    again = client.post(f"/consultations/{CODE}", data={"option": "cycle-lanes"})
    assert again.status_code == 409
    assert "You have already taken part" in text(again)
    assert "already taken part" in send_sms(app, "VOTE cycle-lanes", person["phone"])
    assert stored(app) == before
    assert tally(app) == {option: int(option == "new-park") for option in OPTIONS}


@pytest.mark.parametrize(
    ("kind", "status", "says"),
    [
        ("too young", 403, "at least 16 years old"),
        ("no birth year", 403, "Add your birth year"),
        ("unverified", 403, "Confirm your phone or e-mail"),
        ("signed out", 403, "Sign in to your account"),
    ],
)
def test_a_citizen_who_is_too_young_or_unverified_is_refused(app, kind, status, says):
    open_consultation(app)
    # Born in 2012, 15 in 2027; the one without a birth year cannot show their age.
    born = {"too young": 2012, "no birth year": None}.get(kind, 1990)
    person = citizen(app, born=born)
    if kind == "signed out":
        client = app.test_client()
    else:
        client = signed_in(app, person, verified=kind != "unverified")
    before = stored(app)
    response = client.post(f"/consultations/{CODE}", data={"option": "new-park"})
    assert response.status_code == status
    assert says in text(response)
    assert stored(app) == before


def test_sms_from_a_phone_without_an_account_or_too_young_is_refused(app):
    open_consultation(app)
    contact_only = citizen(app, account=False)
    young = citizen(app, born=2013)
    before = stored(app)
    assert "sign up on the portal" in send_sms(app, "VOTE new-park", contact_only["phone"])
    assert "at least 16" in send_sms(app, "VOTE new-park", young["phone"])
    assert stored(app) == before


def test_participation_is_refused_before_opening_and_after_closing(app):
    open_consultation(app)
    person = citizen(app)
    client = signed_in(app, person)
    before = stored(app)
    CLOCK.set(datetime(2027, 2, 28, 22, 30, tzinfo=UTC))  # 23:30 on 28 February in Rome
    early = client.post(f"/consultations/{CODE}", data={"option": "new-park"})
    assert early.status_code == 409 and "opens on 2027-03-01" in text(early)
    CLOCK.set(AFTER)  # past the last day, before the beat has closed it
    late = client.post(f"/consultations/{CODE}", data={"option": "new-park"})
    assert late.status_code == 409 and "closed on 2027-03-31" in text(late)
    assert "closed on 2027-03-31" in send_sms(app, "VOTE new-park", person["phone"])
    assert stored(app) == before


@pytest.mark.parametrize(
    ("option", "says"),
    [("", "Choose one of: cycle-lanes"), ("banana", "'banana' is not an option")],
)
def test_a_missing_or_unknown_option_is_refused_clearly_and_stores_nothing(app, option, says):
    open_consultation(app)
    client = signed_in(app, citizen(app))
    before = stored(app)
    response = client.post(f"/consultations/{CODE}", data={"option": option})
    assert response.status_code == 422 and says in text(response)
    assert stored(app) == before


def test_nothing_in_the_database_joins_a_citizen_to_the_option_they_chose(app):
    open_consultation(app)
    people = []
    for n, option in enumerate(["new-park", "cycle-lanes", "new-park", "street-lighting"]):
        person = citizen(app)
        if n % 2:
            assert "is counted" in send_sms(app, f"VOTE {option}", person["phone"])
        else:
            client = signed_in(app, person)
            assert client.post(f"/consultations/{CODE}", data={"option": option}).status_code == 302
        people.append(person)
    CLOCK.set(AFTER)
    close_by_beat(app)

    allowed = {"services", "consultations", "consultation_tallies", "events"}
    with session_of(app) as session:
        for table in Base.metadata.sorted_tables:
            citizen_columns = [
                column.name
                for column in table.columns
                if any(fk.column.table.name == "citizens" for fk in column.foreign_keys)
                or (table.name == "citizens" and column.name == "id")
            ]
            for row in session.execute(sa.select(table)).mappings():
                content = json.dumps({k: str(v) for k, v in row.items()})
                named = [o for o in OPTIONS if o in content]
                for person in people:
                    names_person = any(row[c] == person["id"] for c in citizen_columns) or any(
                        person[key] in content for key in ("email", "phone", "name")
                    )
                    assert not (names_person and named), (table.name, dict(row))
                if named:
                    assert table.name in allowed, (table.name, dict(row))
                    if table.name == "events":
                        assert row["citizen_id"] is None
                        assert row["kind"] in {"consultation_opened", "consultation_closed"}
    # The tally has no citizen, no time and no order of arrival; the register has no answer.
    tallies = Base.metadata.tables["consultation_tallies"]
    assert set(tallies.columns.keys()) == {"consultation_id", "option", "count"}
    register = Base.metadata.tables["consultation_participations"]
    assert set(register.columns.keys()) == {"id", "consultation_id", "citizen_id", "channel"}
    assert tally(app) == {"new-park": 2, "cycle-lanes": 1, "street-lighting": 1, "library-hours": 0}


def test_staff_open_from_the_settings_once_and_close_only_after_the_last_day(app, instance):
    caseworker = staff_client(app, role="caseworker")
    assert caseworker.post(f"/office/consultations/{CODE}/open").status_code == 403
    supervisor = staff_client(app)
    office = text(supervisor.get("/office/consultations"))
    assert "not opened" in office
    supervisor.post(f"/office/consultations/{CODE}/open")
    again = text(supervisor.post(f"/office/consultations/{CODE}/open", follow_redirects=True))
    assert "already open or closed" in again
    early = text(supervisor.post(f"/office/consultations/{CODE}/close", follow_redirects=True))
    assert "runs until 2027-03-31" in early
    CLOCK.set(AFTER)
    closed = text(supervisor.post(f"/office/consultations/{CODE}/close", follow_redirects=True))
    assert "results are published" in closed and "new-park: 0" in closed
    with session_of(app) as session:
        kinds = session.scalars(
            sa.select(Event.kind).where(Event.service_code == CODE).order_by(Event.id)
        ).all()
        opened = session.scalars(
            sa.select(Event).where(Event.kind == EventKind.CONSULTATION_OPENED)
        ).one()
    assert kinds == [EventKind.CONSULTATION_OPENED, EventKind.CONSULTATION_CLOSED]
    assert opened.data["opens_on"] == "2027-03-01" and opened.data["options"] == OPTIONS
    assert opened.actor_staff_id is not None


def test_a_consultation_the_node_cannot_verify_is_not_opened(app, instance):
    settings = next((instance / "services").glob("*/settings.toml"))
    settings.write_text(
        settings.read_text().replace('verification = "account"', 'verification = "eid"')
    )
    page = text(staff_client(app).post(f"/office/consultations/{CODE}/open", follow_redirects=True))
    assert "cannot verify participants by eid" in page
    assert stored(app)["participations"] == 0
    assert "has not opened yet" in text(app.test_client().get(f"/consultations/{CODE}"))


def test_a_wrong_code_does_not_verify_and_counts_as_an_attempt(app):
    open_consultation(app)
    client = signed_in(app, citizen(app), verified=False)
    client.post(f"/consultations/{CODE}/code", data={"kind": "phone"})
    wrong = client.post(f"/consultations/{CODE}/confirm", data={"code": "abcdef"})
    assert wrong.status_code == 422 and "not the one we sent" in text(wrong)
    refused = client.post(f"/consultations/{CODE}", data={"option": "new-park"})
    assert refused.status_code == 403


def test_the_portal_sends_citizens_to_the_question_page_not_to_a_request_form(app):
    open_consultation(app)
    client = app.test_client()
    response = client.get(f"/services/{CODE}")
    assert response.status_code == 302 and response.location.endswith(f"/consultations/{CODE}")
    before = stored(app)
    refused = client.post(f"/services/{CODE}", data={"attr_choice": "new-park"})
    assert refused.status_code == 302 and stored(app) == before  # no case carries a choice
    office = text(staff_client(app).get("/office/consultations"))
    assert 'href="/office/consultations"' in office


def test_erasing_a_profile_removes_the_contact_it_confirmed_but_keeps_the_count(app):
    open_consultation(app)
    person = citizen(app)
    client = signed_in(app, person)
    assert client.post(f"/consultations/{CODE}", data={"option": "new-park"}).status_code == 302
    with session_of(app) as session:
        profiles.erase_citizen(db_session=session, citizen_id=person["id"], actor=Actor.system())
        session.commit()
        assert session.scalar(sa.select(sa.func.count(ContactCheck.id))) == 0
    assert tally(app)["new-park"] == 1


def test_open311_and_other_case_channels_refuse_a_consultation_with_directions(app):
    open_consultation(app)
    person = citizen(app)
    before = stored(app)
    refused = pytest.raises(InvalidInput, match=f"take part on the portal at /consultations/{CODE}")
    with session_of(app) as session, refused:
        intake.submit(
            db_session=session,
            service_code=CODE,
            channel="app",
            citizen=session.get(Citizen, person["id"]),
            attributes={"choice": "new-park"},
        )
    assert stored(app) == before
