"""Canary personal data planted through every channel appears in no public Open311 answer.

Five people write to the node, each through one channel: the portal, an Open311 app, SMS,
e-mail with a signature block, and the call centre. Each leaves their name, e-mail, phone and
home address with its house number in the fields and in the text. Then everything the public
Open311 API serves (list and single request, tokens, JSON and XML, without a key and with an
app's ordinary key) and every request's tracking page is read as an attacker would, looking
for any of it: by default, and with the service publishing its requests' text and photos.
"""

import re
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
import sqlalchemy as sa

from node.cases import service as cases
from node.cases.models import Case
from node.cases.schemas import Actor
from node.database import get_db
from node.intake import clients
from node.intake.sms import signature
from node.services import service as catalogue
from tests.factories import EXAMPLE_SERVICES, make_node_app, make_staff
from tests.node.web import cheap_password_hashing, sign_in_staff

SMS_TOKEN, MAIL_TOKEN = "gateway-token", "mail-token"
PEOPLE = {
    "portal": ("Carla", "Canarini", "carla.cn@example.net", "347 555 0101", "Via del Pratello 17"),
    "open311": ("Pietro", "Pettirosso", "pietro.p@example.net", "347 555 0102", "Via Riva Reno 41"),
    "sms": ("Fabio", "Fringuello", "fabio.fr@example.net", "347 555 0103", "Strada Maggiore 88"),
    "email": ("Germana", "Gazza", "germana.gz@example.net", "347 555 0104", "Via Saragozza 203"),
    "phone": ("Lino", "Lucherino", "lino.lc@example.net", "347 555 0105", "Via Mascarella 59"),
}  # fmt: skip
PROBLEM = "The streetlight is out and the pavement is broken"


def _text(channel: str) -> str:
    first, last, email, phone, address = PEOPLE[channel]
    return (
        f"{PROBLEM} in front of my house at {address}. I am {first} {last}, "
        f"call me on {phone} or write to {email}."
    )


def _leaks(body: str) -> list[str]:
    """Every piece of a canary found in a body; a street's name alone is no leak."""
    found = []
    for channel, (first, last, email, phone, address) in PEOPLE.items():
        digits = re.sub(r"\D", "", phone)
        street, number = address.rsplit(" ", 1)
        checks = {
            "first name": rf"\b{first}\b",
            "last name": rf"\b{last}\b",
            "e-mail": re.escape(email.split("@")[0]),
            "phone": r"[\s().\-/]*".join(digits[-7:]),
            "house number": rf"{re.escape(street)}\W{{0,3}}{number}\b",
        }
        found += [
            f"{channel} {what}"
            for what, pattern in checks.items()
            if re.search(pattern, body, re.IGNORECASE)
        ]
    return found


@pytest.fixture
def node(instance, monkeypatch, request):
    """A node whose noise service publishes its defaults, or its text and photos too."""
    cheap_password_hashing(monkeypatch)
    app = make_node_app(
        instance,
        WTF_CSRF_ENABLED=False,
        SMS_AUTH_TOKEN=SMS_TOKEN,
        EMAIL_WEBHOOK_TOKEN=MAIL_TOKEN,
    )
    if request.param == "text published":
        spec = (EXAMPLE_SERVICES / "noise-report" / "service.toml").read_text(encoding="utf-8")
        published = spec + '\n[publish]\nlocation = "street"\ndescription = true\nmedia = true\n'
        (instance / "services" / "noise-report" / "service.toml").write_text(published)
        with get_db(app).session() as session:
            catalogue.load_catalogue(db_session=session, services_dir=instance / "services")
            session.commit()
    yield app, request.param
    get_db(app).engine.dispose()


def _plant(app) -> tuple[list[str], str]:
    """One request through each channel; the tracking codes and an app's ordinary API key."""
    client = app.test_client()
    first, last, email, phone, address = PEOPLE["portal"]
    portal = {"description": _text("portal"), "attr_source": "works", "address": address}
    assert client.post("/services/noise-report", data=portal | {"email": email}).status_code == 302

    with get_db(app).session() as session:
        _, key = clients.create_client(db_session=session, name="Segnala")
        agent = make_staff(session, "agent")
        session.commit()
        agent_email = agent.email
    first, last, email, phone, address = PEOPLE["open311"]
    posted = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "noise-report",
            "attribute[source]": "venue",
            "description": _text("open311"),
            "address_string": f"{address}, 40125 Bologna",
            "lat": "44.49381",
            "long": "11.34632",
            "media_url": f"https://photos.example.org/{last.lower()}/noise.jpg",
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone": phone,
        },
    )
    assert posted.status_code == 200, posted.data

    first, last, email, phone, address = PEOPLE["sms"]
    params = {
        "MessageSid": "SM" + "7" * 32,
        "From": "+39" + phone.replace(" ", ""),
        "To": "+390510000000",
        "Body": f"NOISE {_text('sms')} - {first} {last}",
    }
    signed = signature.compute("http://localhost/sms/inbound", params, SMS_TOKEN)
    sms = client.post("/sms/inbound", data=params, headers={signature.HEADER: signed})
    assert sms.status_code == 200, sms.data

    first, last, email, phone, address = PEOPLE["email"]
    mail = EmailMessage()
    mail["From"], mail["To"] = f"{first} {last} <{email}>", "comune@city.example"
    mail["Subject"], mail["Message-ID"] = "NOISE at night", make_msgid(domain="example.net")
    mail.set_content(
        f"Good evening,\n{PROBLEM} near my home.\n\nKind regards,\n{first} {last}\n"
        f"{address}, 40123 Bologna\nMobile: +39 {phone}\n{email}\n"
    )
    emailed = client.post(
        "/email/inbound",
        data=bytes(mail),
        headers={"Authorization": f"Bearer {MAIL_TOKEN}", "Content-Type": "message/rfc822"},
    )
    assert emailed.status_code == 201, emailed.data

    first, last, email, phone, address = PEOPLE["phone"]
    sign_in_staff(client, agent_email)
    caller = client.post(
        "/office/console/callers/new",
        data={
            "name": f"{first} {last}",
            "phone": phone,
            "email": email,
            "preferred_channel": "sms",
            "language": "en",
            "consent_contact": "y",
        },
    )
    assert caller.status_code == 302, caller.data
    opened = client.post(
        f"{caller.location}/cases/new/noise-report",
        data={"description": _text("phone"), "attr_source": "traffic", "address": address},
    )
    assert opened.status_code == 302, opened.data

    with get_db(app).session() as session:
        planted = list(session.scalars(sa.select(Case).order_by(Case.id)))
        assert len(planted) == 5
        assert {c.channel for c in planted} == {"web", "app", "sms", "email", "phone"}
        # The city answers each person by name, as staff do.
        for case, channel in zip(planted, PEOPLE, strict=True):
            first, last, email, phone, address = PEOPLE[channel]
            cases.reply(
                db_session=session,
                case=case,
                text=f"Dear {first} {last}, a crew comes to {address} this week.",
                actor=Actor.system(),
            )
        session.commit()
        return [case.tracking_code for case in planted], key


@pytest.mark.parametrize("node", ["defaults", "text published"], indirect=True)
def test_no_canary_appears_in_any_public_open311_answer_or_tracking_page(node):
    app, variant = node
    codes, key = _plant(app)
    reader = app.test_client()  # a stranger: no session, no key
    answers = {}
    for fmt in ("json", "xml"):
        for query in ({}, {"api_key": key}):
            answers[f"requests.{fmt} {query}"] = reader.get(
                f"/open311/v2/requests.{fmt}", query_string=query
            )
            for code in codes:
                for path in (f"requests/{code}", f"tokens/{code}"):
                    answers[f"{path}.{fmt} {query}"] = reader.get(
                        f"/open311/v2/{path}.{fmt}", query_string=query
                    )
    for code in codes:
        answers[f"track {code}"] = reader.get("/track", query_string={"code": code})
    assert all(r.status_code == 200 for r in answers.values())
    listed = answers["requests.json {}"].json
    assert {r["service_request_id"] for r in listed} == set(codes), "every request is published"
    assert {r["address"] for r in listed} >= {"Via del Pratello", "Via Riva Reno"}
    assert all("a crew comes to" in r["status_notes"] for r in listed)
    descriptions = [r["description"] for r in listed]
    if variant == "text published":
        assert all(PROBLEM in d for d in descriptions), descriptions
        # The one photo's link names its sender (photos.example.org/pettirosso/...): withheld.
        assert [r["media_url"] for r in listed] == [None] * 5
    else:
        assert descriptions == [None] * 5
    leaks = {name: _leaks(r.get_data(as_text=True)) for name, r in answers.items()}
    assert {name: found for name, found in leaks.items() if found} == {}
    # The same search finds every person in what the city's own app reads: it would see a leak.
    with get_db(app).session() as session:
        _, full = clients.create_client(db_session=session, name="City app", scope="full")
        session.commit()
    everything = reader.get("/open311/v2/requests.xml", query_string={"api_key": full})
    assert {found.split()[0] for found in _leaks(everything.get_data(as_text=True))} == set(PEOPLE)
