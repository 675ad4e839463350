"""Outbound messages as a citizen notices them: told on their channel, in their language, once,
after the city's change is kept; and as staff notice failures: every attempt is on record."""

import json
import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from node.cases import service as cases
from node.cases.models import Event, EventKind
from node.cases.schemas import Actor
from node.database import CLOCK, get_db, utcnow
from node.messaging import service as messaging
from node.messaging.models import DeliveryStatus, Notification
from node.messaging.tasks import notify, notify_after_commit, notify_pending
from node.profiles.models import Citizen
from runtime.celery_app import wait_for_background_sends
from tests.factories import make_case, make_citizen, make_node_app, make_staff
from tests.node.smtp import Inbox, free_port
from tests.node.web import cheap_password_hashing, sign_in_staff, sign_up


def node(instance, **settings):
    return make_node_app(instance, WTF_CSRF_ENABLED=False, **settings)


def events(app, case_id, *kinds):
    with get_db(app).session() as session:
        return session.scalars(
            sa.select(Event)
            .where(Event.case_id == case_id, Event.kind.in_(kinds))
            .order_by(Event.id)
        ).all()


def work(app, case_id, *actions, reply=None):
    """Staff moves committed, and the citizen told once they are, as the back office does it."""
    with app.app_context(), get_db(app).session() as session:
        case = session.get(cases.Case, case_id)
        for action in actions:
            cases.move(
                db_session=session,
                case=case,
                action=action,
                actor=Actor.system(),
                reply=reply if action == actions[-1] else None,
            )
        notify_after_commit(db_session=session, case_id=case_id)
        session.commit()


def test_resolving_tells_an_email_citizen_in_their_language_with_the_tracking_code(
    instance, smtp, monkeypatch
):
    controller, inbox = smtp
    app = node(
        instance,
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=controller.port,
        MAIL_FROM="segnalazioni@comune.bologna.it",
    )
    cheap_password_hashing(monkeypatch)
    with get_db(app).session() as session:
        citizen = make_citizen(session, language="it")
        case = make_case(session, citizen=citizen)
        staff = make_staff(session, "caseworker", "environment")
        session.commit()
    client = app.test_client()
    sign_in_staff(client, staff.email)

    client.post(f"/office/cases/{case.id}/acknowledge")
    client.post(
        f"/office/cases/{case.id}/resolve", data={"resolve-reply": "Il locale chiude alle 23."}
    )

    acknowledged, resolved = inbox.messages  # the reply comes with the resolution, not apart
    assert resolved["To"] == citizen.email
    assert resolved["From"] == "segnalazioni@comune.bologna.it"
    assert case.tracking_code in resolved["Subject"] and "risolta" in resolved["Subject"]
    body = resolved.get_content()
    assert "Il locale chiude alle 23." in body and case.tracking_code in body
    assert "presa in carico" in acknowledged["Subject"]
    delivered = events(app, case.id, EventKind.MESSAGE_DELIVERED)
    assert [(e.channel, e.data["attempt"], e.data["adapter"]) for e in delivered] == [
        ("email", 1, "smtp"),
        ("email", 1, "smtp"),
    ]
    assert "Il locale" not in json.dumps([e.data for e in delivered])  # no text in the archive


def test_a_task_run_twice_for_the_same_event_sends_once(instance, smtp):
    controller, inbox = smtp
    app = node(instance, EMAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
    with get_db(app).session() as session:
        case = make_case(session, citizen=make_citizen(session))
        session.commit()
    work(app, case.id, "acknowledge")
    [event] = events(app, case.id, EventKind.ACKNOWLEDGED)

    with app.app_context(), get_db(app).session() as session:
        notify.apply(args=[event.id])  # a redelivered task, or a duplicate in the queue
        notify_after_commit(db_session=session, case_id=case.id)
        session.commit()

    assert len(inbox.messages) == 1
    assert len(events(app, case.id, EventKind.MESSAGE_DELIVERED)) == 1


@pytest.fixture
def clock():
    """The node's clock, set to now and moved on by the test; the real clock afterwards."""
    CLOCK.set(utcnow())
    yield CLOCK
    CLOCK.set(None)


def later(clock, **interval):
    clock.set(clock.now() + timedelta(**interval))


def test_smtp_server_down_is_retried_by_the_nodes_sweep_then_recorded_as_failed(instance, clock):
    app = node(
        instance,
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=free_port(),  # nothing listens there
        MESSAGING_MAX_RETRIES=2,
    )
    with get_db(app).session() as session:
        case = make_case(session, citizen=make_citizen(session))
        session.commit()

    work(app, case.id, "acknowledge")  # one attempt: nothing is retried within the request

    failed = events(app, case.id, EventKind.MESSAGE_FAILED)
    assert [(e.data["attempt"], e.data["final"]) for e in failed] == [(1, False)]
    with get_db(app).session() as session:
        [row] = session.scalars(sa.select(Notification)).all()
        assert row.status is DeliveryStatus.PENDING and row.next_attempt_at >= utcnow()
    with app.app_context():
        for _ in range(3):
            later(clock, hours=2)
            notify_pending.apply()  # what the node's beat thread runs every five minutes

    failed = events(app, case.id, EventKind.MESSAGE_FAILED)
    assert [(e.channel, e.data["attempt"], e.data["final"]) for e in failed] == [
        ("email", 1, False),
        ("email", 2, False),
        ("email", 3, True),
    ]
    assert events(app, case.id, EventKind.MESSAGE_DELIVERED) == []
    with get_db(app).session() as session:
        [row] = session.scalars(sa.select(Notification)).all()
        assert (row.status, row.attempts, row.next_attempt_at) == (DeliveryStatus.FAILED, 3, None)
        assert "127.0.0.1" in row.last_error


def test_a_message_that_failed_once_is_sent_by_the_sweep_when_the_server_is_back(
    instance, clock, smtp
):
    controller, inbox = smtp
    port = free_port()
    app = node(instance, EMAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    with get_db(app).session() as session:
        case = make_case(session, citizen=make_citizen(session))
        session.commit()
    work(app, case.id, "acknowledge")
    assert inbox.messages == []
    app.config["SMTP_PORT"] = controller.port  # the mail server is back
    with app.app_context():
        later(clock, hours=2)
        notify_pending.apply()
        notify_pending.apply()
    assert len(inbox.messages) == 1
    delivered = events(app, case.id, EventKind.MESSAGE_DELIVERED)
    assert [e.data["attempt"] for e in delivered] == [2]


def test_the_log_sms_gateway_records_the_message_instead_of_sending_it(instance, caplog):
    app = node(instance)  # SMS_GATEWAY defaults to log
    with get_db(app).session() as session:
        citizen = make_citizen(
            session, phone="+39 333 765 4321", preferred_channel="sms", email=None
        )
        case = make_case(session, citizen=citizen, channel="sms")
        session.commit()

    with caplog.at_level(logging.INFO, logger="carmen.messaging"):
        work(app, case.id, "acknowledge", "resolve", reply="Fixed.")

    logged = [r.getMessage() for r in caplog.records if r.name == "carmen.messaging"]
    assert len(logged) == 2
    assert "+393337654321" in logged[-1] and case.tracking_code in logged[-1]
    assert "Fixed." in logged[-1]
    delivered = events(app, case.id, EventKind.MESSAGE_DELIVERED)
    assert {(e.channel, e.data["adapter"]) for e in delivered} == {("sms", "log")}


class Gateway(BaseHTTPRequestHandler):
    """A tiny SMS gateway: keeps what it is sent; answers the status its path asks for."""

    received: list = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        type(self).received.append(
            (self.path, self.headers["Authorization"], json.loads(self.rfile.read(length)))
        )
        status = int(self.path.rsplit("/", 1)[-1])
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    Gateway.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Gateway.received
    server.shutdown()
    server.server_close()


def sms_citizen_case(app):
    with get_db(app).session() as session:
        citizen = make_citizen(session, phone="+393331112222", preferred_channel="sms")
        case = make_case(session, citizen=citizen, channel="sms")
        session.commit()
        return case


def test_the_http_sms_gateway_gets_the_number_and_text(instance, gateway):
    url, received = gateway
    app = node(
        instance,
        SMS_GATEWAY="http",
        SMS_GATEWAY_URL=f"{url}/send/200",
        SMS_GATEWAY_TOKEN="secret",
        SMS_FROM="Bologna",
    )
    case = sms_citizen_case(app)

    work(app, case.id, "acknowledge")

    [(_path, authorization, payload)] = received
    assert authorization == "Bearer secret"
    assert (payload["to"], payload["from"]) == ("+393331112222", "Bologna")
    assert case.tracking_code in payload["body"]
    [delivered] = events(app, case.id, EventKind.MESSAGE_DELIVERED)
    assert delivered.data["adapter"] == "http"


def test_a_gateway_refusing_a_message_is_not_retried(instance, gateway):
    url, received = gateway
    app = node(instance, SMS_GATEWAY="http", SMS_GATEWAY_URL=f"{url}/send/400")
    case = sms_citizen_case(app)

    work(app, case.id, "acknowledge")

    assert len(received) == 1
    [failed] = events(app, case.id, EventKind.MESSAGE_FAILED)
    assert (failed.data["final"], failed.data["permanent"]) == (True, True)


def test_without_consent_nothing_is_sent_and_the_skip_is_recorded(instance, caplog):
    app = node(instance)
    with get_db(app).session() as session:
        case = make_case(session, citizen=make_citizen(session, consent_contact=False))
        session.commit()

    with caplog.at_level(logging.INFO, logger="carmen.messaging"):
        work(app, case.id, "acknowledge")

    assert not [r for r in caplog.records if r.name == "carmen.messaging"]
    assert events(app, case.id, EventKind.MESSAGE_DELIVERED, EventKind.MESSAGE_FAILED) == []
    with get_db(app).session() as session:
        [row] = session.scalars(sa.select(Notification)).all()
        assert (row.status, row.skip_reason) == (
            DeliveryStatus.SKIPPED,
            "no consent to be contacted",
        )


def test_a_citizen_with_an_account_who_prefers_the_web_reads_it_in_their_inbox(
    instance, monkeypatch
):
    cheap_password_hashing(monkeypatch)
    app = node(instance)
    client = app.test_client()
    password = "a long citizen password"
    signed_up = sign_up(
        client,
        app,
        {
            "email": "anna@example.org",
            "preferred_channel": "web",
            "language": "en",
            "consent_contact": "y",
            "password": password,
            "confirm": password,
        },
    )
    assert signed_up.status_code == 302
    with get_db(app).session() as session:
        citizen = session.scalar(sa.select(Citizen).where(Citizen.email == "anna@example.org"))
        case = make_case(session, citizen=citizen)
        session.commit()

    work(app, case.id, "acknowledge", "resolve", reply="The venue was warned.")

    with get_db(app).session() as session:
        inbox = messaging.inbox(db_session=session, citizen_id=citizen.id)
    assert [m.subject for m in inbox] == [
        f"[{case.tracking_code}] Noise report: your request was resolved",
        f"[{case.tracking_code}] Noise report: your request was received",
    ]
    assert "The venue was warned." in inbox[0].body
    page = client.get("/account/").get_data(as_text=True)
    assert "Messages from the city" in page and inbox[0].subject in page


def test_a_refused_move_tells_the_citizen_nothing(instance, monkeypatch, caplog):
    cheap_password_hashing(monkeypatch)
    app = node(instance)
    with get_db(app).session() as session:
        case = make_case(session, citizen=make_citizen(session))
        staff = make_staff(session, "caseworker", "environment")
        session.commit()
    client = app.test_client()
    sign_in_staff(client, staff.email)

    with caplog.at_level(logging.INFO, logger="carmen.messaging"):
        client.post(f"/office/cases/{case.id}/resolve", data={"resolve-reply": "Done"})

    assert not [r for r in caplog.records if r.name == "carmen.messaging"]
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0


def test_a_change_whose_message_was_never_queued_is_told_by_the_periodic_sweep(instance, caplog):
    app = node(instance)
    with get_db(app).session() as session:
        citizen = make_citizen(session, language="en")
        case = make_case(session, citizen=citizen)
        cases.move(db_session=session, case=case, action="acknowledge", actor=Actor.system())
        session.commit()  # and the process died before queueing the message

    with app.app_context(), caplog.at_level(logging.INFO, logger="carmen.messaging"):
        notify_pending.apply()
        notify_pending.apply()  # the next run finds nothing left to tell

    logged = [r.getMessage() for r in caplog.records if r.name == "carmen.messaging"]
    assert len(logged) == 1 and citizen.email in logged[0] and case.tracking_code in logged[0]


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ({"preferred_channel": "sms", "phone": "+393331112222"}, ("sms", None)),
        (
            {"preferred_channel": "sms", "phone": "+393331112222", "sms_opt_out": True},
            ("sms", "opted out of SMS"),
        ),
        (
            {"preferred_channel": "sms", "phone": "+39333", "sms_opt_out": True, "email": "a@b.eu"},
            ("email", None),
        ),
        ({"preferred_channel": "web", "email": "a@b.eu"}, ("email", None)),  # no account
        ({"preferred_channel": "app", "email": "a@b.eu", "password_hash": "x"}, ("portal", None)),
        ({"preferred_channel": "phone"}, ("none", "no contact")),
        ({"email": "a@b.eu", "consent_contact": False}, ("none", "no consent to be contacted")),
    ],
)
def test_the_citizen_is_told_on_the_first_channel_that_reaches_them(profile, expected):
    citizen = Citizen(
        **{"preferred_channel": "email", "consent_contact": True, "sms_opt_out": False} | profile
    )
    plan = messaging.plan_channel(citizen)
    assert (plan.channel, plan.skip_reason) == expected


class HeldInbox(Inbox):
    """A mail server that takes messages only once the test lets it."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, self.open.wait, 30)
        return await super().handle_DATA(server, session, envelope)


def test_a_staff_click_does_not_wait_for_a_slow_mail_server(instance, monkeypatch):
    inbox = HeldInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        app = node(
            instance,
            EMAIL_BACKEND="smtp",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=controller.port,
            BACKGROUND_SENDING=True,  # what a served node does by default
        )
        cheap_password_hashing(monkeypatch)
        with get_db(app).session() as session:
            case = make_case(session, citizen=make_citizen(session))
            staff = make_staff(session, "caseworker", "environment")
            session.commit()
        client = app.test_client()
        sign_in_staff(client, staff.email)

        answered = client.post(f"/office/cases/{case.id}/acknowledge")

        assert answered.status_code == 302  # answered while the mail server still holds on
        assert inbox.messages == [] and events(app, case.id, EventKind.MESSAGE_DELIVERED) == []
        inbox.open.set()
        wait_for_background_sends(app)
        assert len(inbox.messages) == 1
        assert len(events(app, case.id, EventKind.MESSAGE_DELIVERED)) == 1
    finally:
        inbox.open.set()
        controller.stop()


def test_an_email_has_a_date_a_message_id_and_a_link_to_the_track_page(instance, smtp):
    controller, inbox = smtp
    app = node(
        instance,
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=controller.port,
        MAIL_FROM="segnalazioni@comune.bologna.it",
        PUBLIC_URL="https://servizi.comune.bologna.it/",
    )
    with get_db(app).session() as session:
        case = make_case(session, citizen=make_citizen(session, language="en"))
        session.commit()
    work(app, case.id, "acknowledge")
    [message] = inbox.messages
    assert message["Date"] and message["Date"].datetime.tzinfo is not None
    assert message["Message-ID"].endswith("@comune.bologna.it>")
    link = f"https://servizi.comune.bologna.it/track?code={case.tracking_code}"
    assert link in message.get_content()


def test_closing_as_a_duplicate_and_reopening_tell_the_citizen_but_not_the_reason(instance, caplog):
    app = node(instance)
    with get_db(app).session() as session:
        citizen = make_citizen(session, language="en")
        original = make_case(session)
        copy = make_case(session, citizen=citizen)
        session.commit()
    with app.app_context(), get_db(app).session() as session, caplog.at_level(logging.INFO):
        case = session.get(cases.Case, copy.id)
        cases.move(
            db_session=session,
            case=case,
            action="mark_duplicate",
            actor=Actor.system(),
            duplicate_of_code=original.tracking_code,
        )
        notify_after_commit(db_session=session, case_id=copy.id)
        session.commit()
        cases.move(
            db_session=session,
            case=case,
            action="reopen",
            actor=Actor.system(),
            reason="The caseworker mixed up two streets",
        )
        notify_after_commit(db_session=session, case_id=copy.id)
        session.commit()
    logged = [r.getMessage() for r in caplog.records if r.name == "carmen.messaging"]
    assert len(logged) == 2
    assert "same as request" in logged[0] and original.tracking_code in logged[0]
    assert "reopened" in logged[1] and "mixed up" not in logged[1]


def test_the_log_gateway_shows_logged_not_sent_on_the_timeline(instance, monkeypatch):
    cheap_password_hashing(monkeypatch)
    app = node(instance)  # SMS_GATEWAY and EMAIL_BACKEND default to log
    with get_db(app).session() as session:
        case = make_case(session, citizen=make_citizen(session))
        staff = make_staff(session, "supervisor")
        session.commit()
    work(app, case.id, "acknowledge")
    client = app.test_client()
    sign_in_staff(client, staff.email)
    timeline = client.get(f"/office/cases/{case.id}").get_data(as_text=True)
    timeline = timeline.split('id="timeline"', 1)[1]
    assert "Message logged, not sent" in timeline and "Message delivered" not in timeline
