"""The e-mail channel fed what the world sends, through the MTA pipe and a real SMTP server on
loopback: replies from Outlook, Gmail and an Italian webmail, an iPhone's photo, a forwarded
message, a wrongly declared charset, an out-of-office reply and a bounce. Nothing is dropped,
nothing is opened twice, machines get no case and no answer, and citizens get their code."""

from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.cases.models import Case, Event, EventKind
from node.config import NodeSettings
from node.database import get_db
from node.intake.email.models import ArchivedMail
from node.messaging.models import DeliveryStatus, Notification, QuarantinedMessage
from tests.factories import add_service, make_node_app
from tests.node import mail_samples as samples
from tests.node.smtp import Inbox
from tests.node.test_email import WASTE_SERVICE

ANNA = "anna.bianchi@example.org"
NODE_MAIL = f"no-reply@{samples.CITY}"


@pytest.fixture
def instance(tmp_path: Path, smtp) -> Path:
    """A Bologna instance folder that sends its mail through the loopback SMTP server."""
    controller, _ = smtp
    path = tmp_path / "bologna"
    path.mkdir()
    NodeSettings.write_file(
        path,
        {
            "city": "Bologna",
            "secret_key": "test",
            "default_country_code": "IT",
            "email_backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": controller.port,
            "mail_from": NODE_MAIL,
        },
    )
    return path


@pytest.fixture
def app(instance):
    app = make_node_app(instance)
    add_service(app, WASTE_SERVICE)
    yield app
    get_db(app).engine.dispose()


def pipe(instance: Path, raw: bytes):
    return CliRunner().invoke(
        main, ["node", "ingest-email", "--instance", str(instance)], input=raw
    )


def first_request(instance: Path, inbox: Inbox, sender: str = ANNA) -> tuple[Case, object]:
    """A citizen writes a first time; returns their case and the receipt the node mailed."""
    raw = (
        f"From: Anna Bianchi <{sender}>\r\nTo: {samples.ADDRESS}\r\n"
        "Subject: Old sofa to collect\r\nMessage-ID: <first-request@example.org>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Please collect an old sofa in front of Via Mascarella 12.\r\n"
    ).encode()
    before = len(inbox.messages)
    result = pipe(instance, raw)
    assert result.exit_code == 0, result.output
    code = result.output.split()[1]
    [receipt] = inbox.messages[before:]
    with get_db(make_node_app(instance)).session() as session:
        case = session.scalar(sa.select(Case).where(Case.tracking_code == code))
    return case, receipt


def all_cases(app) -> list[Case]:
    with get_db(app).session() as session:
        return list(session.scalars(sa.select(Case).order_by(Case.id)))


def case_events(app, case_id: int, kind: EventKind) -> list[Event]:
    with get_db(app).session() as session:
        return list(
            session.scalars(
                sa.select(Event)
                .where(Event.case_id == case_id, Event.kind == kind)
                .order_by(Event.id)
            )
        )


def test_a_new_mail_gets_a_receipt_with_its_code_threaded_to_the_citizens_message(
    app, instance, smtp
):
    _, inbox = smtp
    case, receipt = first_request(instance, inbox)

    assert receipt["To"] == ANNA and receipt["From"] == NODE_MAIL
    assert case.tracking_code in receipt["Subject"] and "Old sofa to collect" in receipt["Subject"]
    assert case.tracking_code in receipt.get_content()
    assert receipt["In-Reply-To"] == "<first-request@example.org>"
    assert receipt["Auto-Submitted"] == "auto-replied"  # auto-responders must not answer it
    with get_db(app).session() as session:
        row = session.scalar(sa.select(Notification).where(Notification.case_id == case.id))
        assert (row.status, row.channel, row.message_id) == (
            DeliveryStatus.SENT,
            "email",
            receipt["Message-ID"],
        )


def test_an_outlook_reply_with_only_in_reply_to_joins_its_case_without_the_quote_or_signature(
    app, instance, smtp
):
    _, inbox = smtp
    case, receipt = first_request(instance, inbox)
    raw = samples.outlook_reply(
        sender=ANNA, in_reply_to=receipt["Message-ID"], subject="Old sofa to collect"
    )

    result = pipe(instance, raw)

    assert result.output.strip() == f"joined {case.tracking_code}", result.output
    assert len(all_cases(app)) == 1
    [reply] = [e for e in case_events(app, case.id, EventKind.MESSAGE_RECEIVED) if "text" in e.data]
    assert reply.data["text"] == "The sofa is still on the pavement and now it is raining on it."
    assert len(inbox.messages) == 1  # a reply joins a case: no second receipt


def test_a_gmail_reply_naming_the_receipt_in_references_only_joins_its_case(app, instance, smtp):
    _, inbox = smtp
    case, receipt = first_request(instance, inbox, sender="marco.neri@gmail.com")
    references = f"<first-request@example.org> {receipt['Message-ID']}"
    raw = samples.gmail_reply(
        sender="marco.neri@gmail.com", references=references, subject="Old sofa to collect"
    )

    assert pipe(instance, raw).output.strip() == f"joined {case.tracking_code}"
    [reply] = [e for e in case_events(app, case.id, EventKind.MESSAGE_RECEIVED) if "text" in e.data]
    assert reply.data["text"] == (
        "Thank you, I can be at home on Friday morning to open the courtyard gate."
    )


def test_an_italian_reply_in_latin_1_keeps_its_words_and_leaves_its_signature_in_the_archive(
    app, instance, smtp
):
    _, inbox = smtp
    case, _ = first_request(instance, inbox, sender="mario.rossi@libero.it")
    raw = samples.italian_reply(
        sender="mario.rossi@libero.it", subject=f"[{case.tracking_code}] Old sofa to collect"
    )

    assert pipe(instance, raw).output.strip() == f"joined {case.tracking_code}"
    [reply] = [e for e in case_events(app, case.id, EventKind.MESSAGE_RECEIVED) if "text" in e.data]
    assert reply.data["text"] == (
        "Buongiorno,\nil divano è ancora lì, davanti al portone. Può passare anche sabato."
    )
    with get_db(app).session() as session:
        archived = session.get(ArchivedMail, reply.data["archive"])
    kept = (instance / archived.path).read_bytes()
    assert kept == raw and b"cell. 333 765 4321" in kept  # the original, byte for byte


def test_a_signature_block_never_reaches_the_description(app, instance, smtp):
    raw = (
        f"From: Anna Bianchi <{ANNA}>\r\nTo: {samples.ADDRESS}\r\nSubject: Sofa\r\n"
        "Message-ID: <sig@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "There is an old sofa by the bins in front of the school.\r\n\r\n"
        f"Thanks,\r\n{samples.SIGNATURE_NAME}\r\n{samples.SIGNATURE_STREET}, 40126 Bologna\r\n"
        f"{samples.SIGNATURE_PHONE}\r\n{ANNA}\r\n"
    ).encode()

    assert pipe(instance, raw).exit_code == 0
    [case] = all_cases(app)
    assert case.description == "There is an old sofa by the bins in front of the school."
    for canary in (samples.SIGNATURE_NAME, samples.SIGNATURE_STREET, "333", ANNA):
        assert canary not in case.description


def test_an_iphone_photo_without_a_file_name_is_kept_and_the_footer_left_out(app, instance):
    result = pipe(instance, samples.iphone_photo(sender="giulia.verdi@icloud.com"))

    assert result.exit_code == 0 and "1 attachment(s) kept" in result.output, result.output
    [case] = all_cases(app)
    assert case.description == (
        "Un frigorifero abbandonato in via Zamboni angolo piazza Verdi, da lunedì."
    )
    [opened] = case_events(app, case.id, EventKind.MESSAGE_RECEIVED)
    [photo] = opened.data["attachments"]
    assert photo["content_type"] == "image/jpeg" and photo["name"].endswith(".jpg")
    assert (instance / photo["path"]).read_bytes() == samples.PHOTO


def test_a_forwarded_message_is_kept_whole_as_an_attachment(app, instance):
    assert pipe(instance, samples.forwarded(sender="luca.gialli@example.net")).exit_code == 0
    [case] = all_cases(app)
    assert (
        case.description == "My neighbour wrote this to me: the mattress is still in our courtyard."
    )
    [opened] = case_events(app, case.id, EventKind.MESSAGE_RECEIVED)
    [kept] = opened.data["attachments"]
    assert (kept["name"], kept["content_type"]) == (
        "mattress in the courtyard.eml",
        "message/rfc822",
    )
    inner = message_from_bytes((instance / kept["path"]).read_bytes(), policy=policy.default)
    assert inner["From"] == "Paola Blu <paola.blu@example.com>"
    assert "Via Fondazza 20" in inner.get_content()


def test_a_citizen_s_mail_forwarded_in_the_text_opens_a_case_with_the_citizen_s_words(
    app, instance
):
    raw = (
        f"From: URP Bologna <urp@comune.bologna.it>\r\nTo: {samples.ADDRESS}\r\n"
        "Subject: Fwd: materasso\r\nMessage-ID: <fwd-inline@comune.bologna.it>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "---------- Forwarded message ---------\r\n"
        "From: Carlo Verdi <carlo.verdi@example.org>\r\nDate: Mon, 3 Mar 2025 at 10:12\r\n"
        "Subject: materasso\r\nTo: <urp@comune.bologna.it>\r\n\r\n"
        "Materasso abbandonato in Via del Pratello 20.\r\n\r\nCarlo Verdi\r\n"
        "Tel. 333 1234567\r\n"
    ).encode()
    assert pipe(instance, raw).exit_code == 0
    [case] = all_cases(app)
    assert case.description == "Materasso abbandonato in Via del Pratello 20."
    with get_db(app).session() as session:
        [archived] = session.scalars(sa.select(ArchivedMail)).all()
    assert (instance / archived.path).read_bytes() == raw  # the whole forward, headers and all


def test_text_in_a_wrongly_declared_charset_loses_no_letter(app, instance):
    raw = samples.wrongly_declared(sender="modulo@forms.example.org")
    assert pipe(instance, raw).exit_code == 0
    [case] = all_cases(app)
    assert case.description == samples.WRONG_CHARSET_TEXT
    assert "\ufffd" not in case.description
    [opened] = case_events(app, case.id, EventKind.MESSAGE_RECEIVED)
    assert opened.data["charsets"] == ["cp1252 (declared utf-8)"]
    with get_db(app).session() as session:
        [archived] = session.scalars(sa.select(ArchivedMail)).all()
    assert (instance / archived.path).read_bytes() == raw


def test_an_out_of_office_reply_is_recorded_on_its_case_opens_none_and_is_not_answered(
    app, instance, smtp
):
    _, inbox = smtp
    case, receipt = first_request(instance, inbox)
    raw = samples.out_of_office(
        sender=ANNA, in_reply_to=receipt["Message-ID"], subject=receipt["Subject"]
    )

    result = pipe(instance, raw)

    assert result.exit_code == 0 and result.output.strip() == f"automatic {case.tracking_code}"
    assert len(all_cases(app)) == 1 and len(inbox.messages) == 1
    [automatic] = case_events(app, case.id, EventKind.AUTOMATIC_MESSAGE)
    assert automatic.data["automatic"] == "auto-replied"


def test_an_out_of_office_reply_about_no_case_is_kept_aside_and_not_bounced(app, instance, smtp):
    _, inbox = smtp
    raw = samples.out_of_office(sender=ANNA, in_reply_to=None, subject="Hello")

    result = pipe(instance, raw)

    assert result.exit_code == 0, result.output  # 65 would have the MTA bounce it to a machine
    assert "automatic message kept as quarantined message" in result.output
    assert all_cases(app) == [] and inbox.messages == []
    with get_db(app).session() as session:
        [kept] = session.scalars(sa.select(QuarantinedMessage)).all()
        assert kept.automatic == "auto-replied"


def test_a_bounce_of_the_receipt_marks_it_failed_and_opens_no_case(app, instance, smtp):
    _, inbox = smtp
    case, receipt = first_request(instance, inbox, sender="anna.bianchi@gmial.com")
    raw = samples.bounce(
        original_id=receipt["Message-ID"], recipient="anna.bianchi@gmial.com", subject="x"
    )

    result = pipe(instance, raw)

    assert result.exit_code == 0 and result.output.strip() == f"automatic {case.tracking_code}"
    assert len(all_cases(app)) == 1 and len(inbox.messages) == 1
    with get_db(app).session() as session:
        row = session.scalar(sa.select(Notification).where(Notification.case_id == case.id))
        assert row.status is DeliveryStatus.FAILED and "5.1.1" in row.last_error
    [failed] = case_events(app, case.id, EventKind.MESSAGE_FAILED)
    assert failed.data | {"notification": None} == {
        "notification": None,
        "final": True,
        "permanent": True,
        "bounce": "5.1.1",
    }


def test_the_receipt_coming_back_to_the_node_opens_nothing_and_answers_nothing(app, instance, smtp):
    # A citizen's mailbox forwarding everything back to the city: the loop ends at once.
    _, inbox = smtp
    case, receipt = first_request(instance, inbox)
    receipt.replace_header("To", samples.ADDRESS)
    result = pipe(instance, bytes(receipt))
    assert result.output.strip() == f"automatic {case.tracking_code}"
    assert len(all_cases(app)) == 1 and len(inbox.messages) == 1


def test_no_receipt_goes_to_a_no_reply_address(app, instance, smtp):
    _, inbox = smtp
    raw = (
        f"From: Segnalazioni web <noreply@forms.example.org>\r\nTo: {samples.ADDRESS}\r\n"
        "Subject: Mattress\r\nMessage-ID: <form-1@forms.example.org>\r\n\r\n"
        "A mattress by the bins in Via Fondazza.\r\n"
    ).encode()
    assert pipe(instance, raw).exit_code == 0
    assert len(all_cases(app)) == 1
    assert inbox.messages == []
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0
