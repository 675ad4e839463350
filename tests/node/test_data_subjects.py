"""Data-subject rights for everyone: staff with the privacy role, and the command line, find a
person by contact, export what the node holds about them and erase it, account or not."""

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.cases import service as cases
from node.cases.models import Event, EventKind
from node.cases.schemas import Actor
from node.database import get_db
from node.profiles import service as profiles
from tests.factories import make_case, make_citizen, make_node_app, make_staff
from tests.node.web import cheap_password_hashing, sign_in_staff, text

NOISE = "/services/noise-report"
GIOVANNI = ("giovanni.verdi@example.org", "+393331112233", "333 111 2233", "3331112233")
LUCIA = ("lucia.neri@example.org", "+393334445566", "333 444 5566", "3334445566")


def request_from(client, person) -> None:
    email, _e164, spaced, _digits = person
    sent = client.post(
        NOISE,
        data={
            "description": f"Music every night. Call me on {spaced} or write to {email.upper()}",
            "attr_source": "venue",
            "address": "Via Zamboni 1",
            "email": email,
            "phone": spaced,
        },
    )
    assert sent.status_code == 302, text(sent)


def rows_naming(app, person) -> list[str]:
    """Every row of every table (full-text indexes too) that holds the person's contacts."""
    needles = [n.lower() for n in person]
    found = []
    engine = get_db(app).engine
    with engine.connect() as connection:
        for table in sa.inspect(engine).get_table_names():
            for row in connection.execute(sa.text(f'SELECT * FROM "{table}"')):
                blob = " ".join(str(value) for value in row).lower()
                found += [f"{table}: {row}" for n in needles if n in blob]
    return found


@pytest.fixture
def client(app, monkeypatch):
    cheap_password_hashing(monkeypatch)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


def test_staff_and_the_command_line_export_and_erase_a_person_without_an_account(
    app, client, instance
):
    with get_db(app).session() as session:
        make_staff(session, role="privacy", department=None, email="dpo@example.org")
        make_staff(session, role="supervisor", department=None, email="boss@example.org")
        session.commit()
    request_from(app.test_client(), GIOVANNI)
    request_from(app.test_client(), LUCIA)
    # Staff answer both: the e-mails told to them are kept as notifications.
    worker = app.test_client()
    sign_in_staff(worker, "boss@example.org")
    for case_id in (1, 2):
        worker.post(f"/office/cases/{case_id}/acknowledge", data={"reply": "We are on it."})
    assert rows_naming(app, GIOVANNI) and rows_naming(app, LUCIA)

    sign_in_staff(client, "boss@example.org")
    assert client.get(f"/office/privacy/?email={GIOVANNI[0]}").status_code == 403
    client.post("/office/logout")
    sign_in_staff(client, "dpo@example.org")
    page = client.get(f"/office/privacy/?phone={GIOVANNI[2]}")
    assert page.status_code == 200 and GIOVANNI[0] in text(page) and "no account" in text(page)
    export = client.post("/office/privacy/1/export")
    data = json.loads(export.get_data(as_text=True))
    assert data["profile"]["email"] == GIOVANNI[0] and data["account"] is False
    assert data["consent"]["contact"] is True and "history" in data["consent"]
    assert "Music every night" in data["cases"][0]["description"]
    erased = client.post("/office/privacy/1/erase", follow_redirects=True)
    assert erased.status_code == 200
    assert rows_naming(app, GIOVANNI) == []
    assert client.get(f"/office/privacy/?email={GIOVANNI[0]}").status_code == 200
    assert "no profile" in text(client.get(f"/office/privacy/?email={GIOVANNI[0]}"))

    # The command line opens the instance as an operator does, from its settings file.
    (instance / "node.toml").write_text(
        'secret_key = "test"\ncity = "Bologna"\ncountry = "IT"\ndefault_country_code = "IT"\n'
    )
    runner = CliRunner()
    base = ["node", "subject"]
    out = runner.invoke(main, [*base, "export", "--instance", str(instance), "--email", LUCIA[0]])
    assert out.exit_code == 0 and json.loads(out.output)["profile"]["phone"] == LUCIA[1]
    gone = runner.invoke(
        main, [*base, "erase", "--instance", str(instance), "--phone", LUCIA[1], "--yes"]
    )
    assert gone.exit_code == 0, gone.output
    assert rows_naming(app, LUCIA) == []
    again = runner.invoke(
        main, [*base, "erase", "--instance", str(instance), "--email", LUCIA[0], "--yes"]
    )
    assert again.exit_code != 0 and "no profile" in again.output
    with get_db(app).session() as session:
        kinds = session.scalars(sa.select(Event.kind)).all()
    assert kinds.count(EventKind.DATA_EXPORTED) == 2 and kinds.count(EventKind.CITIZEN_ERASED) == 2


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_app(request, instance):
    """A node on either database."""
    settings = {}
    if request.param == "postgres":
        settings["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = make_node_app(instance, **settings)
    yield app
    get_db(app).engine.dispose()


@pytest.mark.parametrize("written", ["Lucía Muñoz", "LUCÍA MUÑOZ", "lucía muñoz"])
def test_erasure_takes_an_accented_name_out_of_a_note_on_someone_elses_case(any_db_app, written):
    with get_db(any_db_app).session() as session:
        person = make_citizen(session, name="Lucía Muñoz", email="lucia_munoz@example.org")
        other_case = make_case(session, citizen=make_citizen(session))
        staff = Actor.of_staff(make_staff(session, "supervisor", department=None))
        note = cases.record(
            db_session=session,
            kind=EventKind.NOTE_ADDED,
            actor=staff,
            case=other_case,
            data={"text": f"The neighbour {written} called about it too."},
        )
        # An address that matches theirs only as a LIKE pattern (_ is any character) is not theirs.
        bystander = cases.record(
            db_session=session,
            kind=EventKind.NOTE_ADDED,
            actor=staff,
            case=other_case,
            data={"text": "Write to luciaXmunoz@example.org."},
        )
        profiles.erase_citizen(db_session=session, citizen_id=person.id, actor=staff)
        session.commit()
        note_id, bystander_id = note.id, bystander.id
    with get_db(any_db_app).session() as session:
        assert "Muñoz" not in json.dumps(session.get(Event, note_id).data, ensure_ascii=False)
        assert session.get(Event, note_id).data.get("redacted")
        assert session.get(Event, bystander_id).data["text"] == "Write to luciaXmunoz@example.org."
