"""The SMS channel as a citizen with a phone and an SMS gateway posting signed webhooks see it."""

import logging
from itertools import count
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from node.cases.models import Case, CaseStatus, Event, EventKind
from node.database import get_db
from node.intake.sms import signature
from node.intake.sms.service import parse_command
from node.messaging.models import DeliveryStatus, InboundMessage, Notification
from node.profiles.models import Citizen
from tests.factories import make_node_app, make_staff
from tests.node.web import cheap_password_hashing, rows, sign_in_staff

TOKEN = "gateway-auth-token"
URL = "http://localhost/sms/inbound"
PHONE = "+393331234567"
_sids = count(1)


@pytest.fixture
def app(instance):
    app = make_node_app(instance, SMS_AUTH_TOKEN=TOKEN, WTF_CSRF_ENABLED=False)
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def client(app, monkeypatch):
    cheap_password_hashing(monkeypatch)
    return app.test_client()


def send_sms(client, body, *, sender=PHONE, sid=None, token=TOKEN, tamper=None):
    """Post a message the way the gateway does, signed with `token`."""
    params = {
        "MessageSid": sid or f"SM{next(_sids):032d}",
        "AccountSid": "AC0000",
        "From": sender,
        "To": "+390510000000",
        "Body": body,
    }
    signed = signature.compute(URL, params, token)
    if tamper:
        params |= tamper
    return client.post("/sms/inbound", data=params, headers={signature.HEADER: signed})


def reply_of(response) -> str:
    root = ElementTree.fromstring(response.data)
    assert root.tag == "Response"
    return root.findtext("Message") or ""


def cases_of(app) -> list[Case]:
    with get_db(app).session() as session:
        return list(session.scalars(sa.select(Case).order_by(Case.id)))


def test_the_signature_is_twilios_hmac_sha1_of_url_and_sorted_parameters():
    # The vectors Twilio's own libraries test against, with their published signatures.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    assert signature.compute(url, params, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = {"Sid": ["CA123"], "SidAccount": ["AC123"], "Digits": ["5678", "1234", "1234"]}
    assert signature.compute(url, repeated, "12345") == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    assert not signature.is_valid(url + "&x=1", params, "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_a_keyword_sms_opens_a_case_and_replies_with_its_tracking_code(app, client):
    response = send_sms(client, "noise loud music from the bar every night")

    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    [case] = cases_of(app)
    assert case.tracking_code in reply_of(response)
    assert (case.channel, case.service_code) == ("sms", "noise-report")
    assert case.description == "loud music from the bar every night"
    assert case.attributes["source"] == "other"  # the catch-all choice: SMS cannot ask
    with get_db(app).session() as session:
        citizen = session.get(Citizen, case.citizen_id)
        assert (citizen.phone, citizen.email, citizen.preferred_channel) == (PHONE, None, "sms")


def test_the_answer_to_the_question_the_node_asks_by_sms_routes_the_case(app, client):
    opened = reply_of(send_sms(client, "NOISE building works start at 5 am"))
    [case] = cases_of(app)
    assert case.attributes["source"] == "other"  # "works" in the text answers no question
    assert "Where does the noise come from?" in opened and "2 Building works" in opened
    send_sms(client, "2")
    [case] = cases_of(app)
    assert case.attributes["source"] == "works"
    assert case.department.code == "building-control"  # and routes the case


def test_a_known_phone_is_matched_to_its_profile(app, client):
    send_sms(client, "NOISE traffic jam horns", sender="+39 333 123 4567")
    send_sms(client, "NOISE again the horns, traffic", sender=PHONE)
    first, second = cases_of(app)
    assert first.citizen_id == second.citizen_id


@pytest.mark.parametrize(
    ("tamper", "token"),
    [
        ({"Body": "NOISE something else"}, TOKEN),  # the text was changed on the way
        ({}, "not-the-gateways-token"),  # signed by someone without the token
    ],
)
def test_a_badly_signed_sms_is_refused_and_nothing_is_stored(app, client, tamper, token):
    before = rows(app)
    response = send_sms(client, "NOISE loud music", token=token, tamper=tamper)
    assert response.status_code == 403
    assert rows(app) == before
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)) == 0


def test_an_unsigned_sms_is_refused(app, client):
    before = rows(app)
    response = client.post("/sms/inbound", data={"From": PHONE, "Body": "NOISE x"})
    assert response.status_code == 403
    assert rows(app) == before


def test_a_gateway_retry_of_the_same_message_is_answered_once(app, client):
    first = send_sms(client, "NOISE loud party", sid="SM-retried")
    again = send_sms(client, "NOISE loud party", sid="SM-retried")
    assert again.status_code == 200
    assert reply_of(again) == reply_of(first)
    assert len(cases_of(app)) == 1


def test_status_answers_where_the_case_stands(app, client):
    opened = send_sms(client, "NOISE trucks at night")
    [case] = cases_of(app)
    assert case.tracking_code in reply_of(opened)

    answer = reply_of(send_sms(client, f"status {case.tracking_code.lower()}"))
    assert case.tracking_code in answer and "received" in answer

    unknown = reply_of(send_sms(client, "STATUS BO-000000"))
    assert "no request" in unknown.lower()


def test_an_unknown_message_gets_help_listing_the_keywords(app, client):
    before = rows(app)
    answer = reply_of(send_sms(client, "hello, is anybody there?"))
    assert "NOISE" in answer and "STATUS" in answer and "STOP" in answer
    assert rows(app)["cases"] == before["cases"]


def test_stop_means_no_sms_when_the_case_is_resolved(app, client, caplog):
    send_sms(client, "NOISE loud music from the bar")
    [case] = cases_of(app)
    stop = reply_of(send_sms(client, "STOP"))
    assert "START" in stop
    with get_db(app).session() as session:
        assert session.get(Citizen, case.citizen_id).sms_opt_out is True
        staff = make_staff(session, "caseworker", "environment")
        session.commit()

    sign_in_staff(client, staff.email)
    with caplog.at_level(logging.INFO, logger="carmen.messaging"):
        base = f"/office/cases/{case.id}"
        assert client.post(f"{base}/acknowledge").status_code == 302
        resolved = client.post(f"{base}/resolve", data={"resolve-reply": "The bar was fined."})
        assert resolved.status_code == 302

    assert not [r for r in caplog.records if "SMS" in r.getMessage()]
    with get_db(app).session() as session:
        assert session.get(Case, case.id).status is CaseStatus.RESOLVED
        kinds = set(session.scalars(sa.select(Event.kind).where(Event.case_id == case.id)))
        assert EventKind.MESSAGE_DELIVERED not in kinds
        skipped = session.scalars(sa.select(Notification)).all()
        assert len(skipped) == 3  # acknowledged, resolved, and the reply sent with it
        assert {(n.status, n.skip_reason) for n in skipped} == {
            (DeliveryStatus.SKIPPED, "opted out of SMS")
        }


def test_start_after_stop_brings_the_sms_back(app, client, caplog):
    send_sms(client, "STOP")
    send_sms(client, "START")
    send_sms(client, "NOISE music")
    [case] = cases_of(app)
    with get_db(app).session() as session:
        citizen = session.get(Citizen, case.citizen_id)
        assert citizen.sms_opt_out is False
        consent = session.scalars(
            sa.select(Event.data).where(
                Event.citizen_id == citizen.id, Event.kind == EventKind.CONSENT_CHANGED
            )
        ).all()
        assert consent == [{"sms_opt_out": True}, {"sms_opt_out": False}]
        staff = make_staff(session, "caseworker", "environment")
        session.commit()
    sign_in_staff(client, staff.email)
    with caplog.at_level(logging.INFO, logger="carmen.messaging"):
        client.post(f"/office/cases/{case.id}/acknowledge")
    assert any(PHONE in r.getMessage() for r in caplog.records)


def test_the_first_word_decides_the_command():
    assert parse_command("  stop ").kind == "stop"
    assert parse_command("Status bo-7k3m9q please").text == "bo-7k3m9q"
    assert parse_command("noise: the bar").word == "NOISE"
    assert parse_command("").kind == "help"
