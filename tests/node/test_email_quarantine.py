"""What the node keeps of inbound mail, as staff and citizens notice it: a quarantined message
released or replayed from the command line or the back office, each an archive event; the raw
message of a case read from its page, pruned after the retention, and erased with its sender."""

import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.cases import service as cases
from node.cases.models import Case, Event, EventKind
from node.cases.schemas import Actor
from node.config import NodeSettings
from node.database import get_db, utcnow
from node.intake.email.models import ArchivedMail
from node.messaging.models import QuarantinedMessage
from node.profiles import service as profiles
from tests.factories import PASSWORD, add_service, make_node_app, make_staff
from tests.node.test_email import WASTE_ADDRESS, WASTE_SERVICE
from tests.node.web import cheap_password_hashing, csrf_token, text


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    path = tmp_path / "bologna"
    path.mkdir()
    NodeSettings.write_file(
        path, {"city": "Bologna", "secret_key": "test", "mail_retention_days": 30}
    )
    return path


@pytest.fixture
def app(instance, monkeypatch):
    cheap_password_hashing(monkeypatch)
    app = make_node_app(instance)
    yield app
    get_db(app).engine.dispose()


def add_bulky_waste(app) -> None:
    """The fix a city makes: a service that takes mail at the address."""
    add_service(app, WASTE_SERVICE)


def mail(sender="anna.bianchi@example.org", subject="Old wardrobe", to=WASTE_ADDRESS) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@example.org>"
    message.set_content("An old wardrobe in front of Via Saragozza 40.\n\n-- \nAnna, 333 1234567")
    return bytes(message)


def sign_in_staff(client, email: str) -> None:
    """Sign in through the login form, its CSRF token included (the app checks them)."""
    token = csrf_token(text(client.get("/office/login")))
    client.post("/office/login", data={"email": email, "password": PASSWORD, "csrf_token": token})


def run(*args: str):
    return CliRunner().invoke(main, ["node", *args])


def ingest(instance: Path, raw: bytes):
    return CliRunner().invoke(
        main, ["node", "ingest-email", "--instance", str(instance)], input=raw
    )


def quarantined(app) -> list[QuarantinedMessage]:
    with get_db(app).session() as session:
        return list(session.scalars(sa.select(QuarantinedMessage).order_by(QuarantinedMessage.id)))


def kinds(app, *wanted: EventKind) -> list[Event]:
    with get_db(app).session() as session:
        return list(session.scalars(sa.select(Event).where(Event.kind.in_(wanted))))


def test_replay_after_the_fix_opens_the_case_and_the_message_leaves_the_quarantine(app, instance):
    assert ingest(instance, mail()).exit_code == 65
    [row] = quarantined(app)
    assert "no service takes e-mail" in row.reason

    still = run("quarantine", "replay", str(row.id), "--instance", str(instance))
    assert still.exit_code == 1 and "no service takes e-mail" in still.output
    add_bulky_waste(app)
    replayed = run("quarantine", "replay", str(row.id), "--instance", str(instance))

    assert replayed.exit_code == 0, replayed.output
    [case] = cases_of(app)
    assert replayed.output.strip() == f"opened {case.tracking_code}"
    assert case.description == "An old wardrobe in front of Via Saragozza 40."
    [row] = quarantined(app)
    assert (row.resolution, row.case_id) == ("replayed", case.id)
    assert (instance / row.path).read_bytes() == mail()  # now kept with the case
    events = kinds(app, EventKind.MAIL_REPLAYED)
    assert [e.data["outcome"] for e in events] == ["quarantined", "opened"]
    assert events[-1].case_id == case.id
    listed = run("quarantine", "list", "--instance", str(instance))
    assert "no quarantined messages" in listed.output
    assert "replayed" in run("quarantine", "list", "--all", "--instance", str(instance)).output
    again = run("quarantine", "replay", str(row.id), "--instance", str(instance))
    assert again.exit_code == 1 and "already replayed" in again.output


def cases_of(app) -> list[Case]:
    with get_db(app).session() as session:
        return list(session.scalars(sa.select(Case).order_by(Case.id)))


def test_release_from_the_command_line_opens_a_case_in_the_service_chosen(app, instance):
    ingest(instance, mail(to="info@comune.bologna.it"))
    [row] = quarantined(app)
    released = run(
        "quarantine",
        "release",
        str(row.id),
        "--service",
        "noise-report",
        "--instance",
        str(instance),
    )
    assert released.exit_code == 0, released.output
    [case] = cases_of(app)
    assert case.service_code == "noise-report" and case.channel == "email"
    [event] = kinds(app, EventKind.MAIL_RELEASED)
    assert (event.case_id, event.data["outcome"]) == (case.id, "opened")


def test_release_joins_a_case_written_about_from_another_address(app, instance):
    add_bulky_waste(app)
    ingest(instance, mail())
    [case] = cases_of(app)
    stranger = mail(sender="figlio.di.anna@example.org", subject=f"Re: {case.tracking_code}")
    assert ingest(instance, stranger).exit_code == 65
    [row] = quarantined(app)
    joined = run("quarantine", "release", str(row.id), "--instance", str(instance))
    assert joined.output.strip() == f"joined {case.tracking_code}", joined.output


def test_the_back_office_quarantine_releases_for_supervisors_only(app, instance):
    ingest(instance, mail(to="info@comune.bologna.it", subject="Lampione spento"))
    [row] = quarantined(app)
    with get_db(app).session() as session:
        supervisor = make_staff(session, "supervisor").email
        caseworker = make_staff(session, "caseworker", "environment").email
        session.commit()

    worker = app.test_client()
    sign_in_staff(worker, caseworker)
    assert worker.get("/office/quarantine").status_code == 403

    client = app.test_client()
    sign_in_staff(client, supervisor)
    listing = text(client.get("/office/quarantine"))
    assert "Lampione spento" in listing and "no service takes e-mail" in listing
    page = client.get(f"/office/quarantine/{row.id}")
    assert "An old wardrobe in front of Via Saragozza 40." in text(page)
    raw = client.get(f"/office/quarantine/{row.id}/raw")
    assert raw.data == mail(to="info@comune.bologna.it", subject="Lampione spento")
    refused = client.post(f"/office/quarantine/{row.id}/release", data={"service": "noise-report"})
    assert refused.status_code == 400  # no CSRF token: nothing changes
    released = client.post(
        f"/office/quarantine/{row.id}/release",
        data={"service": "noise-report", "csrf_token": csrf_token(text(page))},
    )
    assert released.status_code == 302
    [case] = cases_of(app)
    [event] = kinds(app, EventKind.MAIL_RELEASED)
    assert event.actor_staff.email == supervisor and event.case_id == case.id
    assert "No message is waiting" in text(client.get("/office/quarantine"))


def test_staff_read_the_original_on_the_case_and_it_is_pruned_after_the_retention(app, instance):
    add_bulky_waste(app)
    ingest(instance, mail())
    [case] = cases_of(app)
    with get_db(app).session() as session:
        staff = make_staff(session, "caseworker", "environment").email
        session.commit()
    client = app.test_client()
    sign_in_staff(client, staff)
    page = text(client.get(f"/office/cases/{case.id}"))
    link = re.search(r'href="(/office/cases/\d+/mail/\d+)">Original message', page).group(1)
    assert client.get(link).data == mail()
    assert "333 1234567" not in page  # the signature stays in the original only

    with get_db(app).session() as session:
        [archived] = session.scalars(sa.select(ArchivedMail)).all()
        kept = instance / archived.path
    assert "0 archived" in run("prune-mail", "--instance", str(instance)).output  # still open
    with get_db(app).session() as session:
        open_case = session.get(Case, case.id)
        for action in ("acknowledge", "resolve"):
            cases.move(db_session=session, case=open_case, action=action, actor=Actor.system())
        open_case.closed_at = utcnow() - timedelta(days=31)
        session.commit()
    assert "1 archived" in run("prune-mail", "--instance", str(instance)).output
    assert not kept.exists()
    assert client.get(link).status_code == 404
    with get_db(app).session() as session:
        assert session.get(Case, case.id).description  # the case keeps its words


def test_erasing_a_citizen_deletes_their_raw_mail_and_quarantined_messages(app, instance):
    add_bulky_waste(app)
    ingest(instance, mail())
    ingest(instance, mail(to="info@comune.bologna.it", subject="Another one"))
    [row] = quarantined(app)
    with get_db(app).session() as session:
        [archived] = session.scalars(sa.select(ArchivedMail)).all()
    files = [instance / archived.path, instance / row.path]
    assert all(path.exists() for path in files)

    with app.app_context(), get_db(app).session() as session:
        citizen = profiles.find_by_contact(db_session=session, email="anna.bianchi@example.org")
        profiles.erase_citizen(db_session=session, citizen_id=citizen.id, actor=Actor.system())
        session.commit()

    assert not any(path.exists() for path in files)
    [row] = quarantined(app)
    assert (row.sender, row.subject, row.resolution) == (None, None, "erased")
    with get_db(app).session() as session:
        [archived] = session.scalars(sa.select(ArchivedMail)).all()
        assert archived.citizen_id is None and archived.pruned_at is not None


def test_a_message_the_node_cannot_read_is_known_by_its_sender_and_erased_with_them(app, instance):
    add_bulky_waste(app)
    ingest(instance, mail())  # a first request: the sender is a citizen of the node
    empty = (
        f"From: Anna Bianchi <anna.bianchi@example.org>\r\nTo: {WASTE_ADDRESS}\r\n"
        "Subject: \r\nMessage-ID: <empty@example.org>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n\r\n"
    ).encode()
    assert ingest(instance, empty).exit_code != 0  # nothing to act on: the MTA is told
    [row] = quarantined(app)
    assert row.reason == "the message has neither subject nor text"
    assert row.sender == "anna.bianchi@example.org"  # staff see who wrote
    kept = instance / row.path
    assert kept.read_bytes() == empty

    with app.app_context(), get_db(app).session() as session:
        citizen = profiles.find_by_contact(db_session=session, email="anna.bianchi@example.org")
        profiles.erase_citizen(db_session=session, citizen_id=citizen.id, actor=Actor.system())
        session.commit()

    assert not kept.exists()
    [row] = quarantined(app)
    assert (row.sender, row.resolution) == (None, "erased")


def test_an_erasure_with_no_instance_at_hand_leaves_the_files_to_the_next_prune(app, instance):
    add_bulky_waste(app)
    ingest(instance, mail())
    with get_db(app).session() as session:
        [archived] = session.scalars(sa.select(ArchivedMail)).all()
        citizen = profiles.find_by_contact(db_session=session, email="anna.bianchi@example.org")
        profiles.erase_citizen(db_session=session, citizen_id=citizen.id, actor=Actor.system())
        session.commit()
    with get_db(app).session() as session:
        assert session.get(ArchivedMail, archived.id).citizen_id is None

    assert run("prune-mail", "--instance", str(instance)).exit_code == 0
    assert not (instance / archived.path).exists()
