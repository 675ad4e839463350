"""Mail with NUL characters, as broken mailers and spam send them, is taken on either database:
PostgreSQL text and JSON cannot hold U+0000, so the node drops it from all it keeps of a message
(the raw message keeps every byte) instead of answering the MTA with a temporary failure for
ever."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.cases.models import Case, Event, EventKind
from node.config import NodeSettings
from node.database import get_db
from node.intake.email.models import ArchivedMail
from node.messaging.models import QuarantinedMessage
from tests.factories import add_service, make_node_app
from tests.node.test_email import WASTE_ADDRESS, WASTE_SERVICE

NUL_MAIL = (
    b"From: Anna\x00 Bianchi <anna.bianchi@example.org>\r\n"
    b"To: " + WASTE_ADDRESS.encode() + b"\r\n"
    b"Subject: Divano\x00 rotto\r\n"
    b"Message-ID: <nul\x00first@example.org>\r\n"
    b"In-Reply-To: <some\x00thing@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
    b"--zz\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Un divano\x00 in Via Zamboni 4.\r\n"
    b'--zz\r\nContent-Type: image/jpeg; name="fo\x00to.jpg"\r\n'
    b'Content-Disposition: attachment; filename="fo\x00to.jpg"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRg==\r\n--zz--\r\n"
)
NUL_UNREADABLE = (
    b"From: Anna <anna.bianchi@example.org>\r\nTo: " + WASTE_ADDRESS.encode() + b"\r\n"
    b"Subject: \x00\r\nAuto-Submitted: auto-replied\x00\r\n\r\n\x00\r\n"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def instance(request, tmp_path: Path) -> Path:
    path = tmp_path / "bologna"
    path.mkdir()
    settings = {"city": "Bologna", "secret_key": "test", "default_country_code": "IT"}
    if request.param == "postgres":
        settings["database_url"] = request.getfixturevalue("postgres_url")
    NodeSettings.write_file(path, settings)
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


def test_a_mail_with_nul_characters_opens_its_case_with_its_photo(app, instance):
    result = pipe(instance, NUL_MAIL)
    assert result.exit_code == 0, result.output
    with get_db(app).session() as session:
        [case] = session.scalars(sa.select(Case)).all()
        assert case.description == "Un divano in Via Zamboni 4."
        [received] = session.scalars(
            sa.select(Event).where(Event.kind == EventKind.MESSAGE_RECEIVED)
        ).all()
        [archived] = session.scalars(sa.select(ArchivedMail)).all()
    assert received.data["subject"] == "Divano rotto"
    [photo] = received.data["attachments"]
    assert photo["name"] == "foto.jpg"
    assert (instance / archived.path).read_bytes() == NUL_MAIL  # every byte, NULs too


def test_an_unreadable_mail_with_nul_characters_is_quarantined_under_its_sender(app, instance):
    result = pipe(instance, NUL_UNREADABLE)
    assert result.exit_code == 65, result.output  # kept, and the MTA told it was not taken
    with get_db(app).session() as session:
        [row] = session.scalars(sa.select(QuarantinedMessage)).all()
    assert row.sender == "anna.bianchi@example.org"
    assert (instance / row.path).read_bytes() == NUL_UNREADABLE
