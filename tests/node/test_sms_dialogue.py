"""A service's questions by SMS, as citizens answer them: an answer counts only when the node
asked the question, STOP is honoured in every form and over every limit, and a gateway is never
answered with an error for a citizen who wrote too often."""

from datetime import timedelta
from itertools import count
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from federation.protocol.vocabulary import Channel
from node.alerts.models import AlertSubscription
from node.cases.models import Case, Event, EventKind
from node.database import CLOCK, get_db, utcnow
from node.instance import load_services
from node.intake.sms import signature
from node.intake.sms.models import SmsDialogue
from node.messaging.models import InboundMessage
from node.profiles import service as profiles
from node.profiles.models import Citizen
from service_templates.engine import city_answers, new_service, templates_root
from tests.factories import make_node_app

TOKEN = "gateway-auth-token"
URL = "http://localhost/sms/inbound"
PHONE = "+393331234567"
_sids = count(1)

# A service whose required question has no catch-all choice: its request waits for the answer.
POTHOLE = """
code = "pothole"
name = "Pothole"
domain = "mobility"
department = "roads"
channels = ["web", "sms"]
sla_hours = 48
sms_keyword = "HOLE"

[[attributes]]
code = "size"
datatype = "singlevaluelist"
description = "How big is it?"
required = true
order = 1
values = [{ key = "small", name = "Smaller than a plate" }, { key = "large", name = "Larger" }]

[[attributes]]
code = "depth_cm"
datatype = "number"
description = "How deep is it, in centimetres?"
order = 2
"""


def _generate(app, template: str, **assignments) -> None:
    new_service(
        root=templates_root(),
        template=template,
        services_dir=app.config["SERVICES_DIR"],
        city=city_answers(city="Bologna", country="IT", languages=["en"]),
        node_channels=[channel.value for channel in Channel],
        assignments=assignments,
    )


@pytest.fixture
def app(instance):
    """Bologna with noise reports, the issue-report template (its hazard question routes to
    civil protection), traffic alerts and a pothole service whose requests wait for an answer."""
    app = make_node_app(instance, SMS_AUTH_TOKEN=TOKEN, WTF_CSRF_ENABLED=False)
    _generate(app, "issue-report")
    _generate(app, "alert-subscription", quiet_hours="")
    folder = app.config["SERVICES_DIR"] / "pothole"
    folder.mkdir()
    (folder / "service.toml").write_text(POTHOLE)
    report = load_services(app)
    assert not report.errors, report.errors
    yield app
    CLOCK.set(None)
    get_db(app).engine.dispose()


def send(app, body: str, *, sender: str = PHONE):
    params = {"MessageSid": f"SM{next(_sids):032d}", "From": sender, "Body": body}
    signed = signature.compute(URL, params, TOKEN)
    return app.test_client().post("/sms/inbound", data=params, headers={signature.HEADER: signed})


def reply(app, body: str, *, sender: str = PHONE) -> str:
    response = send(app, body, sender=sender)
    assert response.status_code == 200, response.data
    return ElementTree.fromstring(response.data).findtext("Message") or ""


def cases(app) -> list[Case]:
    with get_db(app).session() as session:
        return list(session.scalars(sa.select(Case).order_by(Case.id)))


def received(app, case_id: int) -> list[dict]:
    with get_db(app).session() as session:
        return list(
            session.scalars(
                sa.select(Event.data)
                .where(Event.case_id == case_id, Event.kind == EventKind.MESSAGE_RECEIVED)
                .order_by(Event.id)
            )
        )


def test_a_yes_in_a_request_answers_no_question_and_sends_nothing_to_civil_protection(app):
    answer = reply(app, "REPORT yes the hole is still there, by the school in Via Saragozza")

    [case] = cases(app)
    assert case.tracking_code in answer
    assert "hazard" not in case.attributes
    assert case.attributes["problem_type"] == "other"  # not asked yet: the catch-all stands
    assert case.department.code == "environment"
    assert case.description == "yes the hole is still there, by the school in Via Saragozza"
    assert "What kind of problem is it?" in answer and "1 Illegal dumping" in answer


def test_each_answer_is_to_the_question_asked_and_the_danger_answer_routes_the_case(app):
    reply(app, "REPORT a fridge dumped next to the playground")
    since = reply(app, "1")
    assert "Since when" in since
    danger = reply(app, "skip")
    assert "immediate danger" in danger
    done = reply(app, "yes the hole is still there")

    [case] = cases(app)
    assert case.attributes == {"problem_type": "illegal-dumping", "hazard": "yes"}
    assert case.department.code == "civil-protection"
    assert case.tracking_code in done and "complete" in done
    texts = [(d["question"], d["text"], d.get("answer")) for d in received(app, case.id)]
    assert texts == [
        ("problem_type", "1", "illegal-dumping"),
        ("since", "skip", None),
        ("hazard", "yes the hole is still there", "yes"),
    ]
    with get_db(app).session() as session:
        routed = session.scalars(
            sa.select(Event.data).where(Event.case_id == case.id, Event.kind == EventKind.ROUTED)
        ).all()
        assert routed[-1] == {"department": "civil-protection", "answer": "hazard"}
        assert session.scalar(sa.select(sa.func.count()).select_from(SmsDialogue)) == 0


def test_an_italian_si_answers_a_yes_question_by_its_name(app):
    reply(app, "NOISE music from the bar every night")
    reply(app, "3")  # Bar, club or venue
    reply(app, "Sì")
    [case] = cases(app)
    assert case.attributes == {"source": "venue", "night": "yes"}


def test_a_reply_that_answers_nothing_is_kept_and_the_question_asked_once_more(app):
    reply(app, "NOISE drilling all morning")
    again = reply(app, "it comes from the flat upstairs")
    assert "did not understand" in again and "Where does the noise come from?" in again
    moved_on = reply(app, "really loud")
    assert "at night" in moved_on  # after two replies that answer nothing, the next question

    [case] = cases(app)
    assert case.attributes == {"source": "other"}
    assert [d["text"] for d in received(app, case.id)] == [
        "it comes from the flat upstairs",
        "really loud",
    ]


def test_a_question_left_unanswered_expires_and_a_late_digit_is_no_answer(app):
    reply(app, "NOISE horns in Via Irnerio")
    CLOCK.set(utcnow() + timedelta(minutes=61))
    late = reply(app, "2")
    [case] = cases(app)
    assert case.attributes == {"source": "other"}
    assert "NOISE" in late and "STATUS" in late  # the help, not an answer


def test_a_new_request_ends_the_questions_of_the_last_one(app):
    reply(app, "NOISE horns at night")
    reply(app, "HOLE huge hole in Via Emilia Ponente")
    first, *rest = cases(app)
    assert first.attributes == {"source": "other"} and rest == []  # the pothole waits for size
    opened = reply(app, "large")
    first, second = cases(app)
    assert second.tracking_code in opened and second.attributes == {"size": "large"}
    assert "How deep" in opened
    reply(app, "about 15 cm")
    assert cases(app)[1].attributes == {"size": "large", "depth_cm": 15.0}
    assert first.attributes == {"source": "other"}


def test_a_request_waits_for_the_answer_it_cannot_open_without(app):
    asked = reply(app, "HOLE in front of number 12, Via Emilia Ponente")
    assert "How big is it?" in asked and "need this answer" in asked
    assert cases(app) == []
    skipped = reply(app, "SKIP")
    assert "How big is it?" in skipped and cases(app) == []
    dropped = reply(app, "no idea")
    assert "not opened" in dropped and "HOLE" in dropped
    assert cases(app) == []

    reply(app, "HOLE in front of number 12, Via Emilia Ponente")
    reply(app, "it is where the bus stops")  # answers nothing: kept with the request
    opened = reply(app, "1")
    [case] = cases(app)
    assert case.tracking_code in opened and case.attributes == {"size": "small"}
    assert case.description == (
        "in front of number 12, Via Emilia Ponente\nit is where the bus stops"
    )


def test_an_alerts_keyword_in_the_middle_of_questions_subscribes_and_ends_them(app):
    reply(app, "NOISE trucks at five in the morning")
    reply(app, "ALERTS road-works centre")
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AlertSubscription)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(SmsDialogue)) == 0
    reply(app, "1")
    assert cases(app)[0].attributes == {"source": "other"}


@pytest.mark.parametrize(
    "body",
    ["STOP", "  stop  ", "s t o p", "Stop.", "Stop sending me these", "stop please", "BASTA"],
)
def test_stop_in_the_forms_people_write_it_opts_out(app, body):
    reply(app, "NOISE music")
    answer = reply(app, body)
    assert "START" in answer
    with get_db(app).session() as session:
        citizen = session.scalar(sa.select(Citizen).where(Citizen.phone == PHONE))
        assert citizen.sms_opt_out is True
        assert session.scalar(sa.select(sa.func.count()).select_from(SmsDialogue)) == 0
    assert cases(app)[0].attributes == {"source": "other"}  # and it answered no question


def test_the_words_after_stop_or_start_in_a_sentence_stay_a_sentence():
    from node.intake.sms.service import parse_command

    assert parse_command("NOISE it does not stop").kind == "open"
    assert parse_command("the works never stop").kind == "open"
    assert parse_command("per favore STOP").kind == "stop"
    assert parse_command("help me").kind == "help"
    assert parse_command("End of Via Roma, by the bus stop").kind == "open"
    assert parse_command("Cancel my booking please").kind == "open"
    assert parse_command("Start of the works at 5 am").kind == "open"
    assert parse_command("cancel").kind == "stop"


@pytest.fixture
def limited(instance, tmp_path):
    app = make_node_app(
        tmp_path / "limited",
        SMS_AUTH_TOKEN=TOKEN,
        RATELIMIT_ENABLED=True,
        RATELIMITS={"sms_phone": "2/minute"},
    )
    yield app
    get_db(app).engine.dispose()


def test_a_message_over_the_limit_gets_a_polite_200_once_and_nothing_is_stored(limited):
    for n in range(2):
        reply(limited, f"NOISE horns number {n}")
    with get_db(limited).session() as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(InboundMessage))

    over = send(limited, "NOISE horns again")
    again = send(limited, "NOISE and again")

    assert (over.status_code, again.status_code) == (200, 200)  # a gateway retries anything else
    polite = ElementTree.fromstring(over.data).findtext("Message")
    assert "many messages" in polite and "try again" in polite
    assert ElementTree.fromstring(again.data).find("Message") is None  # one notice per window
    assert len(cases(limited)) == 2
    with get_db(limited).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)) == before


def test_stop_start_and_help_go_through_after_the_limit_and_are_recorded(limited):
    for n in range(3):
        send(limited, f"NOISE horns number {n}")
    stop = reply(limited, "stop ")
    assert "START" in stop
    helped = reply(limited, "HELP")
    assert "NOISE" in helped
    started = reply(limited, "START")
    assert "STOP" in started
    with get_db(limited).session() as session:
        citizen = profiles.find_by_contact(db_session=session, phone=PHONE)
        consent = session.scalars(
            sa.select(Event.data)
            .where(Event.citizen_id == citizen.id, Event.kind == EventKind.CONSENT_CHANGED)
            .order_by(Event.id)
        ).all()
        outcomes = session.scalars(sa.select(InboundMessage.outcome).order_by(InboundMessage.id))
        assert list(outcomes)[-3:] == ["stop", "help", "start"]
    assert consent == [{"sms_opt_out": True}, {"sms_opt_out": False}]
