"""After erasure no row and no file of the node names the person, and sent months stay as sent.

One person writes through every channel (the portal, an Open311 app, SMS, e-mail with a
signature block, the call centre), leaving a canary name, e-mail, phone and home address in the
fields and in the words; staff answer and note by name. Then staff on the privacy page, or an
operator on the command line, erase them, and every column of every table (SQLite and
PostgreSQL) and every file of the instance folder is searched for any piece of the canary.
"""

import json
import re
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.cases import service as cases
from node.cases.models import Case, Event, EventKind
from node.cases.schemas import Actor
from node.database import get_db
from node.intake import clients
from node.intake.sms import signature
from node.sync.aggregation import aggregate
from node.sync.snapshots import build_snapshot
from tests.factories import make_node_app, make_staff
from tests.node.web import cheap_password_hashing, sign_in_staff

SMS_TOKEN, MAIL_TOKEN = "gateway-token", "mail-token"
FIRST, LAST = "Ottavia", "Canarinetti"
EMAIL, PHONE, ADDRESS = "ottavia.cnt@example.net", "347 555 0199", "Via Broccaindosso 71"
E164 = "+39" + PHONE.replace(" ", "")
PROBLEM = "The streetlight is out and the pavement is broken"
WORDS = (
    f"{PROBLEM} in front of my house at {ADDRESS}. I am {FIRST} {LAST}, "
    f"call me on {PHONE} or write to {EMAIL}."
)


def canaries(blob: str) -> list[str]:
    """Every piece of the canary written in a text, however it is spaced or cased."""
    digits = re.sub(r"\D", "", PHONE)
    checks = {
        "first name": rf"\b{FIRST}\b",
        "last name": LAST,
        "e-mail": re.escape(EMAIL.split("@")[0]),
        "phone": r"[\s().\-/]*".join(digits[-7:]),
        "house number": r"Broccaindosso\W{0,3}71\b",
    }
    return [what for what, pattern in checks.items() if re.search(pattern, blob, re.IGNORECASE)]


def rows_naming_the_person(app) -> dict[str, list[str]]:
    """Per table, the canaries found in any of its rows (every column, full-text shadows too)."""
    engine = get_db(app).engine
    found = {}
    with engine.connect() as connection:
        for table in sa.inspect(engine).get_table_names():
            for row in connection.execute(sa.text(f'SELECT * FROM "{table}"')):
                blob = " ".join(
                    v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row
                )
                if hits := canaries(blob):
                    found.setdefault(table, []).extend(hits)
    return found


def files_naming_the_person(instance: Path) -> dict[str, list[str]]:
    """Per file of the instance folder (the database file included), the canaries in it."""
    found = {}
    for path in sorted(p for p in instance.rglob("*") if p.is_file()):
        if hits := canaries(path.read_bytes().decode("utf-8", "replace")):
            found[str(path.relative_to(instance))] = hits
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def node(request, instance, monkeypatch):
    """A node on SQLite or PostgreSQL, with its settings file written as an operator would."""
    cheap_password_hashing(monkeypatch)
    settings = {}
    if request.param == "postgresql":
        settings["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = make_node_app(
        instance,
        WTF_CSRF_ENABLED=False,
        SMS_AUTH_TOKEN=SMS_TOKEN,
        EMAIL_WEBHOOK_TOKEN=MAIL_TOKEN,
        **settings,
    )
    toml = (
        'secret_key = "test"\ncity = "Bologna"\ncountry = "IT"\ndefault_country_code = "IT"\n'
        f'sms_auth_token = "{SMS_TOKEN}"\nemail_webhook_token = "{MAIL_TOKEN}"\n'
    )
    if "DATABASE_URL" in settings:
        toml += f'database_url = "{settings["DATABASE_URL"]}"\n'
    (instance / "node.toml").write_text(toml)
    yield app
    get_db(app).engine.dispose()


def plant(app) -> None:
    """The person writes through every channel; staff answer them and note about them."""
    client = app.test_client()
    with get_db(app).session() as session:
        _, key = clients.create_client(db_session=session, name="Segnala")
        agent = make_staff(session, "agent", email="agent@example.org")
        make_staff(session, "privacy", department=None, email="dpo@example.org")
        session.commit()
    # They first call the city, whose agent makes their profile (age and district included).
    sign_in_staff(client, agent.email)
    caller = client.post(
        "/office/console/callers/new",
        data={
            "name": f"{FIRST} {LAST}",
            "phone": PHONE,
            "email": EMAIL,
            "preferred_channel": "sms",
            "language": "en",
            "district": "Navile",
            "birth_year": "1961",
            "consent_contact": "y",
        },
    )
    assert caller.status_code == 302, caller.data
    opened = client.post(
        f"{caller.location}/cases/new/noise-report",
        data={"description": WORDS, "attr_source": "traffic", "address": ADDRESS},
    )
    assert opened.status_code == 302, opened.data
    client.post("/office/logout")

    portal = {"description": WORDS, "attr_source": "works", "address": ADDRESS}
    sent = client.post("/services/noise-report", data=portal | {"email": EMAIL, "phone": PHONE})
    assert sent.status_code == 302, sent.data
    posted = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "noise-report",
            "attribute[source]": "venue",
            "description": WORDS,
            "address_string": f"{ADDRESS}, 40125 Bologna",
            "lat": "44.49381",
            "long": "11.34632",
            "first_name": FIRST,
            "last_name": LAST,
            "email": EMAIL,
            "phone": PHONE,
        },
    )
    assert posted.status_code == 200, posted.data

    params = {
        "MessageSid": "SM" + "7" * 32,
        "From": E164,
        "To": "+390510000000",
        "Body": f"NOISE {WORDS} - {FIRST} {LAST}",
    }
    signed = signature.compute("http://localhost/sms/inbound", params, SMS_TOKEN)
    sms = client.post("/sms/inbound", data=params, headers={signature.HEADER: signed})
    assert sms.status_code == 200, sms.data

    mail = EmailMessage()
    mail["From"], mail["To"] = f"{FIRST} {LAST} <{EMAIL}>", "comune@city.example"
    mail["Subject"] = f"NOISE outside {ADDRESS}"
    mail["Message-ID"] = make_msgid(domain="example.net")
    mail.set_content(
        f"Good evening,\n{PROBLEM} near my home.\n\nKind regards,\n{FIRST} {LAST}\n"
        f"{ADDRESS}, 40123 Bologna\nMobile: +39 {PHONE}\n{EMAIL}\n"
    )
    emailed = client.post(
        "/email/inbound",
        data=bytes(mail),
        headers={"Authorization": f"Bearer {MAIL_TOKEN}", "Content-Type": "message/rfc822"},
    )
    assert emailed.status_code == 201, emailed.data

    with get_db(app).session() as session:
        citizen_id = session.scalar(sa.select(Case.citizen_id).order_by(Case.id))
        planted = list(session.scalars(sa.select(Case).order_by(Case.id)))
        assert {c.channel for c in planted} == {"web", "app", "sms", "email", "phone"}
        assert {c.citizen_id for c in planted} == {citizen_id}, "one person on every channel"
        for case in planted:
            cases.reply(
                db_session=session,
                case=case,
                text=f"Dear {FIRST} {LAST}, a crew comes to {ADDRESS} this week.",
                actor=Actor.system(),
            )
            cases.add_note(
                db_session=session,
                case=case,
                text=f"{FIRST} called again from {PHONE}, angry.",
                actor=Actor.system(),
            )
        # One is resolved and rated: the satisfaction counted must survive the erasure too.
        first = planted[0]
        for action in ("acknowledge", "resolve"):
            cases.move(db_session=session, case=first, action=action, actor=Actor.system())
        cases.record_feedback(db_session=session, case=first, score=4, channel="web")
        session.commit()


def erase(app, instance: Path, how: str) -> None:
    if how == "staff":
        client = app.test_client()
        sign_in_staff(client, "dpo@example.org")
        page = client.get("/office/privacy/", query_string={"email": EMAIL})
        assert page.status_code == 200 and EMAIL in page.get_data(as_text=True)
        citizen_id = re.search(r"/office/privacy/(\d+)/erase", page.get_data(as_text=True))
        erased = client.post(f"/office/privacy/{citizen_id.group(1)}/erase")
        assert erased.status_code == 302, erased.data
    else:
        command = ["node", "subject", "erase", "--instance", str(instance), "--phone", E164]
        gone = CliRunner().invoke(main, [*command, "--yes"])
        assert gone.exit_code == 0, gone.output


def archive_facts(app) -> dict[int, tuple]:
    """Per event, what the counts are made of: kind, time, case, service, channel and actor."""
    columns = (Event.kind, Event.at, Event.case_id, Event.service_code, Event.channel)
    with get_db(app).session() as session:
        rows = session.execute(sa.select(Event.id, *columns, Event.actor_kind, Event.data))
        return {
            row[0]: (*row[1:-1], row[-1].get("score"), row[-1].get("from"), row[-1].get("to"))
            for row in rows
        }


def month_counts(app) -> tuple[dict, list]:
    """The month's exact counts per cell, and the cells of its snapshot as the hub gets them."""
    with get_db(app).session() as session:
        period = session.scalar(sa.select(Case.created_at)).strftime("%Y-%m")
        exact = aggregate(db_session=session, period=period).values
        snapshot = build_snapshot(db_session=session, node_slug="bologna", period=period, k=2)
    return exact, json.loads(snapshot.model_dump_json())["cells"]


@pytest.mark.parametrize("how", ["staff", "cli"])
def test_after_erasure_no_row_and_no_file_of_the_node_names_the_person(node, instance, how):
    plant(node)
    assert set(rows_naming_the_person(node)) >= {"cases", "events", "citizens"}
    before = month_counts(node)
    facts = archive_facts(node)
    assert (("noise-report", "segment", "unknown"), "citizens") not in before[0]

    erase(node, instance, how)

    assert rows_naming_the_person(node) == {}
    assert files_naming_the_person(instance) == {}
    assert month_counts(node) == before, "a month's counts do not change with an erasure"
    kept = archive_facts(node)
    assert {i: f for i, f in kept.items() if i in facts} == facts, "every event keeps its facts"
    # Staff still open every case, and its timeline, without them.
    office = node.test_client()
    sign_in_staff(office, "agent@example.org")
    with get_db(node).session() as session:
        planted = session.scalars(sa.select(Case.id)).all()
    assert [office.get(f"/office/cases/{i}").status_code for i in planted] == [200] * len(planted)
    with get_db(node).session() as session:
        ledger = session.scalar(sa.select(Event).where(Event.kind == EventKind.EVENTS_REDACTED))
        redacted = session.scalars(sa.select(Event).where(Event.id.in_(ledger.data["events"])))
        kinds = {e.kind for e in redacted}
    assert {EventKind.SUBMITTED, EventKind.MESSAGE_RECEIVED, EventKind.NOTE_ADDED} <= kinds
    assert EventKind.FEEDBACK in kinds
    assert ledger.actor_kind.value == ("staff" if how == "staff" else "system")
    assert set(ledger.data) == {"events"}, "the ledger says which events, never what they said"


def test_the_archive_lets_only_a_redaction_through_and_never_a_deletion(node):
    plant(node)
    engine = get_db(node).engine
    with engine.connect() as connection:
        for forged in (
            "UPDATE events SET data = '{}'",
            "UPDATE events SET kind = 'resolved', data = '{\"redacted\": 1}'",
            "UPDATE events SET channel = 'web', data = '{\"redacted\": 1}'",
            "DELETE FROM events",
        ):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                connection.execute(sa.text(forged))
            connection.rollback()
        connection.execute(sa.text("UPDATE events SET data = '{\"redacted\": 1}' WHERE id = 1"))
        connection.commit()
        kept = connection.execute(sa.text("SELECT kind, data FROM events WHERE id = 1")).one()
        assert kept[0] == "profile_created" and "redacted" in str(kept[1])
