"""A service's own Italian texts ([i18n.it] in service.toml) wherever an Italian citizen meets
the service: SMS replies, e-mails, and the alert, booking, consultation and track pages."""

import html
import re
from itertools import count
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from node.cases.models import Case
from node.database import get_db
from node.instance import load_services
from node.intake.sms import signature
from node.staff.service import hash_password
from service_templates.engine import PACKAGE_TEMPLATES, city_answers, new_service
from tests.factories import PASSWORD, make_citizen, make_node_app, make_staff
from tests.node.web import cheap_password_hashing, sign_in_staff

TOKEN = "gateway-auth-token"
PHONE = "+393331234567"
_sids = count(1)
TEMPLATES = {
    "issue-report": {},
    "alert-subscription": {"quiet_hours": ""},
    "appointment-booking": {},
    # Open today, whatever day the tests run on.
    "consultation": {"opens_on": "2020-01-01", "closes_on": "2099-12-31"},
}


def generate(app, template: str, answers: dict) -> None:
    new_service(
        root=PACKAGE_TEMPLATES,
        template=template,
        services_dir=app.config["SERVICES_DIR"],
        city=city_answers(city="Bologna", country="IT", languages=["en", "it"]),
        node_channels=["web", "app", "sms", "email", "phone", "counter"],
        assignments=answers,
    )


@pytest.fixture
def app(instance, monkeypatch, smtp):
    """Bologna with every template generated in English and Italian, mailing through a real
    SMTP server on loopback."""
    cheap_password_hashing(monkeypatch)
    controller, _inbox = smtp
    app = make_node_app(
        instance,
        SMS_AUTH_TOKEN=TOKEN,
        WTF_CSRF_ENABLED=False,
        TIMEZONE="Europe/Rome",
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=controller.port,
    )
    for template, answers in TEMPLATES.items():
        generate(app, template, answers)
    report = load_services(app)
    assert not report.errors, report.errors
    yield app
    get_db(app).engine.dispose()


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def sms(app, body: str, sender: str = PHONE) -> str:
    params = {"MessageSid": f"SM{next(_sids):032d}", "From": sender, "Body": body}
    signed = signature.compute("http://localhost/sms/inbound", params, TOKEN)
    response = app.test_client().post(
        "/sms/inbound", data=params, headers={signature.HEADER: signed}
    )
    assert response.status_code == 200, response.data
    return ElementTree.fromstring(response.data).findtext("Message") or ""


def italian_citizen(app, **values) -> dict:
    with get_db(app).session() as session:
        person = make_citizen(session, language="it", **values)
        person.password_hash = hash_password(PASSWORD)
        session.commit()
        return {"id": person.id, "email": person.email}


def test_an_italian_citizen_talks_to_a_service_by_sms_in_its_italian_texts(app):
    italian_citizen(app, phone=PHONE)
    opened = sms(app, "REPORT un frigorifero abbandonato accanto al parco giochi")
    assert "Segnala un problema ambientale" in opened
    assert "Di che tipo di problema si tratta?" in opened and "Abbandono di rifiuti" in opened
    assert "What kind of problem" not in opened and "Illegal dumping" not in opened
    since = sms(app, "1")
    assert "Da quando c'è?" in since
    danger = sms(app, "salta")
    assert "Qualcuno è in pericolo immediato?" in danger
    with get_db(app).session() as session:
        case = session.scalars(sa.select(Case)).one()
    assert case.attributes["problem_type"] == "illegal-dumping"


def test_an_english_number_gets_the_service_as_written_by_sms(app):
    with get_db(app).session() as session:
        make_citizen(session, language="en", phone="+393339876543")
        session.commit()
    opened = sms(app, "REPORT a fridge dumped by the playground", sender="+393339876543")
    assert "What kind of problem is it?" in opened and "Segnala" not in opened


def test_the_e_mails_telling_an_italian_citizen_name_the_service_in_italian(app, smtp):
    _controller, inbox = smtp
    person = italian_citizen(app)
    client = app.test_client()
    client.post("/account/login", data={"email": person["email"], "password": PASSWORD})
    report = {"description": "Rifiuti davanti alla scuola", "attr_problem_type": "illegal-dumping"}
    assert client.post("/services/issue-report", data=report).status_code == 302
    with get_db(app).session() as session:
        case = session.scalars(sa.select(Case)).one()
        worker = make_staff(session, "caseworker", case.department.code).email
        session.commit()
        case_id = case.id
    office = app.test_client()
    sign_in_staff(office, worker)
    assert office.post(f"/office/cases/{case_id}/acknowledge").status_code == 302
    [acknowledged] = [m for m in inbox.messages if m["To"] == person["email"]]
    body = acknowledged.get_content()
    assert "Segnala un problema ambientale" in body + acknowledged["Subject"]
    assert "Report an environmental problem" not in body


def test_the_track_page_names_the_service_in_the_readers_language(app):
    client = app.test_client()
    report = {
        "description": "Rifiuti davanti alla scuola",
        "attr_problem_type": "illegal-dumping",
        "email": "anna@example.org",
    }
    assert client.post("/services/issue-report?lang=it", data=report).status_code == 302
    with get_db(app).session() as session:
        code = session.scalar(sa.select(Case.tracking_code))
    italian = page(client.get(f"/track?code={code}&lang=it"))
    assert "Segnala un problema ambientale" in italian
    english = page(app.test_client().get(f"/track?code={code}&lang=en"))
    assert "Report an environmental problem" in english and "Segnala" not in english


def test_the_alert_pages_show_the_service_in_italian(app):
    listed = page(app.test_client().get("/alerts?lang=it"))
    assert "Avvisi sul traffico" in listed and "Ricevi avvisi su cantieri stradali" in listed
    person = italian_citizen(app)
    client = app.test_client()
    client.post("/account/login", data={"email": person["email"], "password": PASSWORD})
    mine = page(client.get("/alerts/traffic-alerts"))
    assert "<h1>Avvisi sul traffico</h1>" in mine
    english = page(app.test_client().get("/alerts?lang=en"))
    assert "Traffic alerts" in english and "Avvisi sul traffico" not in english


def test_the_booking_pages_show_the_service_its_question_and_purposes_in_italian(app):
    with get_db(app).session() as session:
        supervisor = make_staff(session, role="supervisor", department=None).email
        session.commit()
    office = app.test_client()
    sign_in_staff(office, supervisor)
    assert office.post("/office/bookings/appointments/publish").status_code == 302

    client = app.test_client()
    slots = page(client.get("/bookings/appointments?lang=it"))
    assert "<h1>Prenota un appuntamento</h1>" in slots
    assert "Per che cosa è l'appuntamento?" in slots
    assert ">Carta d'identità</option>" in slots and ">Cambio di residenza</option>" in slots
    slot = re.search(r'name="slot" value="([^"]+)"', slots).group(1)
    booked = client.post(
        "/bookings/appointments",
        data={"slot": slot, "purpose": "identity-card", "email": "marta@example.org"},
    )
    assert booked.status_code == 302, booked.get_data(as_text=True)
    detail = page(client.get(booked.headers["Location"]))
    assert "Prenota un appuntamento:" in detail and "<dd>Carta d'identità</dd>" in detail
    english = page(app.test_client().get("/bookings/appointments?lang=en"))
    assert ">Identity card</option>" in english and "Carta d'identità" not in english


def test_the_consultation_page_asks_its_question_in_italian(app):
    with get_db(app).session() as session:
        supervisor = make_staff(session, role="supervisor", department=None).email
        session.commit()
    office = app.test_client()
    sign_in_staff(office, supervisor)
    assert office.post("/office/consultations/consultation/open").status_code == 302
    italian = page(app.test_client().get("/consultations/consultation?lang=it"))
    assert "<h1>Dì la tua</h1>" in italian
    assert "Quale progetto dovrebbe finanziare per primo il Comune?" in italian
    english = page(app.test_client().get("/consultations/consultation?lang=en"))
    assert "Which project should the city fund first?" in english
    assert "Quale progetto" not in english
