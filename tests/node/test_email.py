"""The e-mail channel as a citizen writing to the city, and an MTA or mail service handing over
their messages, see it: cases opened and joined, attachments kept, nothing ever dropped."""

import re
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.cases.models import Case, Event, EventKind
from node.config import NodeSettings
from node.database import get_db
from node.messaging.models import QuarantinedMessage
from node.profiles.models import Citizen
from tests.factories import add_service, make_node_app, make_staff
from tests.node.web import cheap_password_hashing, rows, sign_in_staff

TOKEN = "mail-service-token"
WASTE_ADDRESS = "rifiuti@comune.bologna.it"
WASTE_SERVICE = f"""
code = "bulky-waste"
name = "Bulky waste collection"
domain = "environment"
department = "environment"
channels = ["web", "email"]
sla_hours = 120
email_address = "{WASTE_ADDRESS}"
"""


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    """A node instance folder with its settings file, so `carmen node` commands can open it."""
    path = tmp_path / "bologna"
    path.mkdir()
    NodeSettings.write_file(
        path,
        {
            "city": "Bologna",
            "secret_key": "test",
            "default_country_code": "IT",
            "email_webhook_token": TOKEN,
            "attachment_max_bytes": 50_000,
        },
    )
    return path


@pytest.fixture
def app(instance):
    app = make_node_app(instance)
    add_service(app, WASTE_SERVICE)
    yield app
    get_db(app).engine.dispose()


def message(
    *,
    sender="anna.bianchi@example.org",
    to=WASTE_ADDRESS,
    subject="Old sofa to collect",
    text="Please collect an old sofa in front of Via Mascarella 12.",
    attachments=(),
) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Anna Bianchi <{sender}>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain="example.org")
    mail.set_content(text)
    for name, content, mime in attachments:
        maintype, subtype = mime.split("/")
        mail.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return bytes(mail)


def pipe(instance: Path, raw: bytes, *extra: str):
    """Run the MTA pipe command with the message on standard input."""
    return CliRunner().invoke(
        main, ["node", "ingest-email", "--instance", str(instance), *extra], input=raw
    )


def cases_of(app) -> list[Case]:
    with get_db(app).session() as session:
        return list(session.scalars(sa.select(Case).order_by(Case.id)))


def test_mail_to_a_services_address_opens_a_case_for_the_sender(app, instance):
    result = pipe(instance, message())

    assert result.exit_code == 0, result.output
    [case] = cases_of(app)
    assert result.output.strip() == f"opened {case.tracking_code}"
    assert (case.service_code, case.channel) == ("bulky-waste", "email")
    assert "old sofa" in case.description
    with get_db(app).session() as session:
        citizen = session.get(Citizen, case.citizen_id)
        assert (citizen.email, citizen.preferred_channel) == ("anna.bianchi@example.org", "email")


def test_a_keyword_in_the_subject_finds_the_service(app, instance):
    raw = message(to="comune@comune.bologna.it", subject="NOISE: traffic all night on Via Irnerio")
    assert pipe(instance, raw).exit_code == 0
    [case] = cases_of(app)
    # E-mail asks no questions: "traffic" in the subject answers none, the catch-all stands.
    assert (case.service_code, case.attributes["source"]) == ("noise-report", "other")


def test_the_envelope_recipient_given_by_the_mta_routes_the_mail(app, instance):
    raw = message(to="undisclosed-recipients:;")
    assert pipe(instance, raw, "--recipient", WASTE_ADDRESS).exit_code == 0
    assert [c.service_code for c in cases_of(app)] == ["bulky-waste"]


def test_a_reply_with_the_tracking_code_joins_its_case(app, instance):
    pipe(instance, message())
    [case] = cases_of(app)
    reply = message(
        to="no-reply@comune.bologna.it",
        subject=f"Re: [{case.tracking_code}] Bulky waste collection: your request was received",
        text="It is a green sofa, next to the bins.\n\nOn Monday the city wrote:\n> Hello",
    )

    result = pipe(instance, reply)

    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"joined {case.tracking_code}"
    assert len(cases_of(app)) == 1
    with get_db(app).session() as session:
        received = session.scalars(
            sa.select(Event).where(
                Event.case_id == case.id, Event.kind == EventKind.MESSAGE_RECEIVED
            )
        ).all()
    assert received[-1].data["text"] == "It is a green sofa, next to the bins."
    assert received[-1].channel == "email"


def test_a_new_message_quoting_its_tracking_code_in_the_text_joins_its_case(app, instance):
    pipe(instance, message())
    [case] = cases_of(app)
    later = message(
        subject="The sofa again",
        text=f"About my request {case.tracking_code.lower()}: the sofa is still there.",
    )

    result = pipe(instance, later)

    assert result.output.strip() == f"joined {case.tracking_code}"
    assert len(cases_of(app)) == 1


def test_a_reply_from_someone_else_is_quarantined_not_joined(app, instance):
    pipe(instance, message())
    [case] = cases_of(app)
    stranger = message(sender="someone@else.example", subject=f"Re: {case.tracking_code}")
    result = pipe(instance, stranger)
    assert result.exit_code == 65
    assert "not its contact" in result.output


def test_attachments_are_kept_and_staff_download_them_from_the_case(app, instance, monkeypatch):
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20
    raw = message(attachments=[("sofa photo.png", photo, "image/png")])

    result = pipe(instance, raw)

    assert result.exit_code == 0, result.output
    [case] = cases_of(app)
    with get_db(app).session() as session:
        event = session.scalar(
            sa.select(Event).where(
                Event.case_id == case.id, Event.kind == EventKind.MESSAGE_RECEIVED
            )
        )
    [kept] = event.data["attachments"]
    assert (kept["name"], kept["content_type"], kept["size"]) == (
        "sofa photo.png",
        "image/png",
        len(photo),
    )
    assert (instance / kept["path"]).read_bytes() == photo

    cheap_password_hashing(monkeypatch)
    with get_db(app).session() as session:
        staff = make_staff(session, "caseworker", "environment")
        session.commit()
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    sign_in_staff(client, staff.email)
    page = client.get(f"/office/cases/{case.id}").get_data(as_text=True)
    link = re.search(r'href="([^"]+/attachments/[^"]+)">sofa photo.png</a>', page).group(1)
    download = client.get(link)
    assert download.data == photo
    assert download.headers["Content-Disposition"].startswith("attachment")

    with get_db(app).session() as session:
        other = make_staff(session, "caseworker", "building-control")
        session.commit()
    client.post("/office/logout")
    sign_in_staff(client, other.email)
    assert client.get(link).status_code == 404  # another department's case stays hidden


def test_an_attachment_over_the_limit_quarantines_the_message(app, instance):
    raw = message(attachments=[("scan.pdf", b"%PDF" + b"0" * 60_000, "application/pdf")])
    before = rows(app)
    result = pipe(instance, raw)
    assert result.exit_code == 65
    assert "scan.pdf" in result.output and "50000" in result.output
    assert rows(app)["cases"] == before["cases"]


def test_malformed_mail_is_quarantined_and_reported_with_a_non_zero_exit(app, instance):
    raw = b"\x00\x01 this is not an e-mail at all\n\x02"
    before = rows(app)

    result = pipe(instance, raw)

    assert result.exit_code == 65
    assert "quarantined message" in result.output and "no sender" in result.output
    assert rows(app) == before
    with get_db(app).session() as session:
        [kept] = session.scalars(sa.select(QuarantinedMessage)).all()
    assert (instance / kept.path).read_bytes() == raw
    listed = CliRunner().invoke(main, ["node", "quarantine", "list", "--instance", str(instance)])
    assert "no sender" in listed.output


def test_mail_addressing_no_service_is_quarantined_never_dropped(app, instance):
    raw = message(to="info@comune.bologna.it", subject="Hello")
    result = pipe(instance, raw)
    assert result.exit_code == 65
    assert "no service takes e-mail at info@comune.bologna.it" in result.output
    with get_db(app).session() as session:
        [kept] = session.scalars(sa.select(QuarantinedMessage)).all()
        assert (kept.sender, kept.subject) == ("anna.bianchi@example.org", "Hello")
    assert cases_of(app) == []


def test_the_same_message_delivered_twice_opens_one_case(app, instance):
    raw = message()
    pipe(instance, raw)
    again = pipe(instance, raw)
    assert again.exit_code == 0
    assert again.output.startswith("duplicate ")
    assert len(cases_of(app)) == 1


def test_the_webhook_takes_a_message_with_the_right_token_only(app):
    client = app.test_client()
    raw = message()
    headers = {"Content-Type": "message/rfc822"}

    missing = client.post("/email/inbound", data=raw, headers=headers)
    wrong = client.post(
        "/email/inbound", data=raw, headers=headers | {"Authorization": "Bearer guess"}
    )
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert wrong.get_json()["error"] == "unauthorized"
    assert cases_of(app) == []

    taken = client.post(
        "/email/inbound", data=raw, headers=headers | {"Authorization": f"Bearer {TOKEN}"}
    )
    assert taken.status_code == 201
    [case] = cases_of(app)
    assert taken.get_json()["tracking_code"] == case.tracking_code


def test_the_webhook_answers_a_quarantined_message_with_a_clear_json_error(app):
    response = app.test_client().post(
        "/email/inbound",
        data=b"garbage without headers",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "quarantined" and "no sender" in body["reason"]
    assert isinstance(body["quarantine_id"], int)
