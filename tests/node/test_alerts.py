"""Traffic alerts as citizens and staff notice them: subscribe on the portal, by SMS or through
the call centre; staff publish; the matching subscribers are told on their channels, once."""

import logging
import socket
from email import message_from_bytes, policy
from itertools import count
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from federation.protocol.vocabulary import Channel
from node.alerts import service as alerts
from node.alerts.models import Alert, AlertDelivery, AlertSubscription
from node.cases.models import Case, Event, EventKind
from node.cases.schemas import Actor
from node.database import get_db, utcnow
from node.instance import load_services
from node.intake.sms import signature
from node.profiles.models import Citizen
from node.sync.service import aggregate
from node.usage import service as usage
from service_templates.engine import city_answers, new_service, templates_root
from tests.factories import make_case, make_citizen, make_node_app, make_staff
from tests.node.web import cheap_password_hashing, sign_in_staff, text
from tests.node.web import sign_up as sign_up_verified

TOKEN = "gateway-auth-token"
SMS_URL = "http://localhost/sms/inbound"
CODE = "traffic-alerts"
PASSWORD = "a long citizen password"
_sids = count(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler keeping every message the server accepts."""

    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server on a free loopback port."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


def install_alert_service(app, **answers) -> None:
    """Generate the alert-subscription template into the node, as `carmen service new` does."""
    new_service(
        root=templates_root(),
        template="alert-subscription",
        services_dir=Path(app.config["SERVICES_DIR"]),
        city=city_answers(city="Bologna", country="IT", languages=["en", "it"])
        | {"areas": "Navile,Savena"},
        node_channels=[channel.value for channel in Channel],
        assignments={"quiet_hours": ""} | answers,
    )
    report = load_services(app)
    assert not report.errors, report.errors


@pytest.fixture
def app(instance, smtp, monkeypatch):
    """A Bologna node hosting traffic alerts (no quiet hours), e-mail through a real SMTP server."""
    cheap_password_hashing(monkeypatch)
    controller, _ = smtp
    app = make_node_app(
        instance,
        SMS_AUTH_TOKEN=TOKEN,
        WTF_CSRF_ENABLED=False,
        TIMEZONE="Europe/Rome",
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=controller.port,
        MAIL_FROM="alerts@comune.bologna.example",
    )
    install_alert_service(app)
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def sms_log(caplog):
    """What the log SMS gateway 'sent': (phone, text) pairs."""
    caplog.set_level(logging.INFO, logger="carmen.messaging")

    def sent() -> list[tuple[str, str]]:
        return [
            (record.args[0], record.args[1])
            for record in caplog.records
            if record.name == "carmen.messaging" and record.msg.startswith("SMS (not sent")
        ]

    return sent


def send_sms(client, body, *, sender):
    params = {"MessageSid": f"SM{next(_sids):032d}", "From": sender, "Body": body}
    signed = signature.compute(SMS_URL, params, TOKEN)
    response = client.post("/sms/inbound", data=params, headers={signature.HEADER: signed})
    assert response.status_code == 200
    return text(response)


def sign_up(client, email, *, phone="", birth_year="1990"):
    response = sign_up_verified(
        client,
        client.application,
        {
            "name": email.split("@")[0].title(),
            "email": email,
            "phone": phone,
            "preferred_channel": "email",
            "language": "en",
            "district": "Navile",
            "birth_year": birth_year,
            "consent_contact": "y",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert response.status_code == 302, text(response)


def publish(app, *, topic="road-works", areas=("navile",), text_="Via Stalingrado closed", **more):
    client = app.test_client()
    with get_db(app).session() as session:
        email = make_staff(session, role="supervisor").email
        session.commit()
    sign_in_staff(client, email)
    assert f'href="/office/alerts/{CODE}"' in text(client.get("/office/alerts"))
    data = {"topic": topic, "areas": list(areas), "text": text_} | more
    return client.post(f"/office/alerts/{CODE}", data=data)


def table(app, model):
    with get_db(app).session() as session:
        return list(session.scalars(sa.select(model).order_by(model.id)))


def kinds(app, *wanted):
    with get_db(app).session() as session:
        return list(
            session.scalars(sa.select(Event).where(Event.kind.in_(wanted)).order_by(Event.id))
        )


def test_subscribers_on_two_channels_get_an_alert_matched_by_topic_area_and_age_band(
    app, smtp, sms_log
):
    _, mailbox = smtp
    anna = app.test_client()
    sign_up(anna, "anna@example.org", phone="+393330000001", birth_year="1990")
    for channel in ("app", "sms"):
        done = anna.post(
            f"/alerts/{CODE}",
            data={"topics": ["road-works"], "areas": "navile", "channel": channel},
        )
        assert done.status_code == 302
    assert f'href="/alerts/{CODE}"' in text(anna.get("/alerts"))  # linked from every page
    # The portal's list of services leads to the subscriptions, not to a request form.
    assert anna.get(f"/services/{CODE}").headers["Location"] == f"/alerts/{CODE}"
    page = text(anna.get(f"/alerts/{CODE}"))
    assert page.count("Road works") >= 2 and "Unsubscribe" in page

    # An older citizen subscribes by SMS; another through the call centre, by e-mail.
    with get_db(app).session() as session:
        make_citizen(session, phone="+393330000002", birth_year=1945, language="en")
        carla = make_citizen(session, email="carla@example.org", birth_year=1985, language="en")
        agent = make_staff(session, role="agent")
        service = alerts.get_alert_service(db_session=session, code=CODE)
        settings = alerts.settings_of(
            services_dir=Path(app.config["SERVICES_DIR"]), service_code=CODE
        )
        alerts.subscribe(
            db_session=session,
            service=service,
            settings=settings,
            citizen=carla,
            topics=["road-works", "closures"],
            channel="email",
            via=Channel.PHONE.value,
            actor=Actor.of_staff(agent),
        )
        session.commit()
    reply = send_sms(app.test_client(), "ALERTS road-works navile", sender="+393330000002")
    assert "You will get Road works alerts for Navile by SMS" in reply

    assert publish(app, age_band="25-54").status_code == 302
    sent = sms_log()
    assert [phone for phone, _ in sent] == ["+393330000001"]  # not the 81-year-old
    assert "Via Stalingrado closed" in sent[0][1]
    assert "Via Stalingrado closed" in text(anna.get(f"/alerts/{CODE}"))  # the portal inbox
    assert [m["To"] for m in mailbox.messages] == ["carla@example.org"]  # whole city, 41

    assert publish(app, areas=("savena",), text_="Bridge works in Savena").status_code == 302
    assert len(sms_log()) == 1  # Navile's subscribers hear nothing of Savena; Carla does
    assert [m["To"] for m in mailbox.messages] == ["carla@example.org"] * 2
    assert "Bridge works in Savena" in mailbox.messages[-1].get_content()

    assert publish(app, topic="closures", text_="Centre closed on Sunday").status_code == 302
    assert len(sms_log()) == 1 and len(mailbox.messages) == 3  # only Carla wants closures

    subscribed = kinds(app, EventKind.SUBSCRIBED)
    assert [(e.channel, e.service_code) for e in subscribed] == [
        ("web", CODE),
        ("web", CODE),
        ("phone", CODE),
        ("sms", CODE),
    ]
    assert all(e.citizen_id and e.case_id is None for e in subscribed)
    delivered = kinds(app, EventKind.ALERT_DELIVERED)
    assert sorted(e.channel for e in delivered) == ["app", "email", "email", "email", "sms"]
    assert all(e.service_code == CODE and e.citizen_id for e in delivered)
    assert len(kinds(app, EventKind.ALERT_PUBLISHED)) == 3
    assert table(app, Case) == []  # subscriptions are not cases

    # The federation snapshot counts them per service and channel, named in the common vocabulary.
    with get_db(app).session() as session:
        counted = aggregate(db_session=session, period=utcnow().strftime("%Y-%m")).values
    assert counted[((CODE, "channel", "web"), "events.subscribed")] == 2
    assert counted[((CODE, "channel", "sms"), "events.subscribed")] == 1
    assert counted[((CODE, "channel", "email"), "events.message_delivered")] == 3


def test_unsubscribing_on_the_portal_and_by_sms_and_stop_are_honoured(app, sms_log):
    anna = app.test_client()
    sign_up(anna, "anna@example.org", phone="+393330000001")
    for channel in ("app", "sms"):
        anna.post(f"/alerts/{CODE}", data={"topics": ["road-works"], "channel": channel})
    assert "You will get" in send_sms(
        app.test_client(), "alerts road-works", sender="+393330000003"
    )
    send_sms(app.test_client(), "ALERTS road-works savena", sender="+393330000004")

    assert anna.post(f"/alerts/{CODE}/unsubscribe", data={"channel": "sms"}).status_code == 302
    assert "no more alerts" in send_sms(app.test_client(), "ALERTS STOP", sender="+393330000003")
    send_sms(app.test_client(), "STOP", sender="+393330000004")  # out of every SMS
    again = send_sms(app.test_client(), "ALERTS closures", sender="+393330000004")
    assert "send START first" in again  # STOP is not undone behind the citizen's back

    publish(app, areas=("city",), text_="Snow ploughs out tonight")
    assert sms_log() == []
    assert "Snow ploughs out tonight" in text(anna.get(f"/alerts/{CODE}"))  # app stays
    deliveries = {(d.channel, d.status.value, d.skip_reason) for d in table(app, AlertDelivery)}
    assert deliveries == {("app", "sent", None), ("sms", "skipped", "opted out of SMS")}
    ended = kinds(app, EventKind.UNSUBSCRIBED)
    assert [(e.channel, e.data["delivery"]) for e in ended] == [("web", "sms"), ("sms", "sms")]


def test_bad_topics_and_areas_get_a_form_error_or_the_sms_help_and_nothing_is_stored(app):
    anna = app.test_client()
    sign_up(anna, "anna@example.org")
    before = len(table(app, Event))
    refused = anna.post(
        f"/alerts/{CODE}", data={"topics": ["snow-storms"], "areas": "navile", "channel": "app"}
    )
    assert refused.status_code == 422
    assert "unknown topic snow-storms" in text(refused)
    refused = anna.post(
        f"/alerts/{CODE}", data={"topics": ["road-works"], "areas": "atlantis", "channel": "app"}
    )
    assert refused.status_code == 422 and "unknown area atlantis" in text(refused)
    refused = anna.post(f"/alerts/{CODE}", data={"topics": ["road-works"], "channel": "sms"})
    assert refused.status_code == 422 and "need a phone number" in text(refused)

    for body in ("ALERTS snow-storms navile", "ALERTS road-works atlantis", "ALERTS"):
        reply = send_sms(app.test_client(), body, sender="+393330000009")
        assert "Send ALERTS followed by a topic" in reply
    with get_db(app).session() as session:
        assert session.scalar(sa.select(Citizen).where(Citizen.phone == "+393330000009")) is None

    refused = publish(app, areas=("atlantis",))
    assert refused.status_code == 422 and "unknown area atlantis" in text(refused)
    refused = publish(app, text_="  ")
    assert refused.status_code == 422 and "the alert needs a text" in text(refused)
    assert table(app, AlertSubscription) == [] and table(app, Alert) == []
    # Only the staff member made for publishing left a trace (their profile event, if any).
    assert not kinds(app, EventKind.SUBSCRIBED, EventKind.ALERT_PUBLISHED)
    assert len(table(app, Event)) == before


def test_the_call_centre_subscribes_and_unsubscribes_a_caller_by_phone(app, smtp):
    _, mailbox = smtp
    with get_db(app).session() as session:
        carla = make_citizen(session, email="carla@example.org", language="en")
        agent = make_staff(session, role="agent")
        carla_id, agent_email, agent_id = carla.id, agent.email, agent.id
        session.commit()
    console = app.test_client()
    sign_in_staff(console, agent_email)
    caller_page = text(console.get(f"/office/console/callers/{carla_id}"))
    page_url = f"/office/console/callers/{carla_id}/alerts/{CODE}"
    assert f'href="{page_url}"' in caller_page

    refused = console.post(page_url, data={"topics": ["snow-storms"], "channel": "email"})
    assert refused.status_code == 422 and "unknown topic snow-storms" in text(refused)
    done = console.post(page_url, data={"topics": ["closures"], "channel": "email"})
    assert done.status_code == 302
    assert "Road closures" in text(console.get(page_url))

    publish(app, topic="closures", text_="Via Rizzoli closed on Saturday")
    assert [m["To"] for m in mailbox.messages] == ["carla@example.org"]
    assert console.post(f"{page_url}/unsubscribe", data={"channel": "email"}).status_code == 302
    publish(app, topic="closures", text_="Via Rizzoli closed on Sunday")
    assert len(mailbox.messages) == 1

    asked = kinds(app, EventKind.SUBSCRIBED, EventKind.UNSUBSCRIBED)
    assert [(e.kind, e.channel, e.actor_staff_id, e.citizen_id) for e in asked] == [
        (EventKind.SUBSCRIBED, "phone", agent_id, carla_id),
        (EventKind.UNSUBSCRIBED, "phone", agent_id, carla_id),
    ]


def test_an_alert_email_unsubscribes_by_its_link_and_by_one_click(app, smtp):
    _, mailbox = smtp
    app.config["PUBLIC_URL"] = "https://servizi.comune.bologna.example"
    with get_db(app).session() as session:
        service = alerts.get_alert_service(db_session=session, code=CODE)
        settings = alerts.settings_of(
            services_dir=Path(app.config["SERVICES_DIR"]), service_code=CODE
        )
        for email in ("carla@example.org", "dario@example.org"):
            alerts.subscribe(
                db_session=session,
                service=service,
                settings=settings,
                citizen=make_citizen(session, email=email, language="en"),
                topics=["road-works"],
                channel="email",
                via=Channel.WEB.value,
            )
        session.commit()
    assert publish(app, areas=("city",)).status_code == 302
    carla, dario = sorted(mailbox.messages, key=lambda m: m["To"])
    assert carla["Date"] and carla["Message-ID"]
    assert carla["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = carla["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://servizi.comune.bologna.example/alerts/unsubscribe/")
    assert link in carla.get_content()
    path = link.removeprefix("https://servizi.comune.bologna.example")

    browser = app.test_client()  # nobody signed in
    asked = browser.get(path)
    assert asked.status_code == 200 and "Stop getting these alerts" in text(asked)
    assert len(table(app, AlertSubscription)) == 2 and all(
        s.active for s in table(app, AlertSubscription)
    )  # opening the link (as a mail scanner does) changes nothing
    assert "no more of these alerts" in text(browser.post(path))
    one_click = (
        dario["List-Unsubscribe"].strip("<>").removeprefix("https://servizi.comune.bologna.example")
    )
    clicked = browser.post(one_click, data={"List-Unsubscribe": "One-Click"})
    assert clicked.status_code == 200
    assert [s.active for s in table(app, AlertSubscription)] == [False, False]
    assert len(kinds(app, EventKind.UNSUBSCRIBED)) == 2
    assert browser.get(path[:-3] + "xyz").status_code == 404  # a forged token

    assert publish(app, areas=("city",), text_="Another closure").status_code == 302
    assert len(mailbox.messages) == 2  # nobody is told any more


def test_an_alert_for_one_usage_segment_reaches_only_the_subscribers_in_it(app, smtp):
    _, mailbox = smtp
    with get_db(app).session() as session:
        service = alerts.get_alert_service(db_session=session, code=CODE)
        settings = alerts.settings_of(
            services_dir=Path(app.config["SERVICES_DIR"]), service_code=CODE
        )
        subscribed = {}
        for n in range(24):
            heavy = n % 3 == 0  # a third report often by app, the rest once by phone
            citizen = make_citizen(
                session, email=f"citizen{n}@example.org", language="en", consent_profiling=True
            )
            for _ in range(8 if heavy else 1):
                make_case(session, citizen=citizen, channel="app" if heavy else "phone")
            if n < 6:
                alerts.subscribe(
                    db_session=session,
                    service=service,
                    settings=settings,
                    citizen=citizen,
                    topics=["road-works"],
                    channel="email",
                    via=Channel.WEB.value,
                )
                subscribed[citizen.email] = heavy
        found = usage.fit_segments(db_session=session, n_clusters=2)
        session.commit()
    heavy_users = next(c.value for c in found if c.figures["requests_app"] > 1)

    client = app.test_client()
    with get_db(app).session() as session:
        email = make_staff(session, role="caseworker", department="mobility").email
        session.commit()
    sign_in_staff(client, email)
    form = text(client.get(f"/office/alerts/{CODE}"))
    assert f'value="{heavy_users}"' in form and 'href="/office/usage"' in form
    published = client.post(
        f"/office/alerts/{CODE}",
        data={
            "topic": "road-works",
            "areas": ["city"],
            "text": "Via Irnerio closed",
            "usage": heavy_users,
        },
    )
    assert published.status_code == 302
    assert sorted(m["To"] for m in mailbox.messages) == sorted(
        address for address, heavy in subscribed.items() if heavy
    )

    unknown = client.post(
        f"/office/alerts/{CODE}",
        data={"topic": "road-works", "areas": ["city"], "text": "Via Irnerio open", "usage": "u9"},
    )
    assert unknown.status_code == 422 and "no usage segment u9" in text(unknown)
    assert len(table(app, Alert)) == 1 and len(mailbox.messages) == 2
