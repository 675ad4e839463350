"""`carmen service` as a replication team runs it: generate in one city, clone into another."""

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.cases.models import Case
from node.database import get_db
from node.instance import initialise, load_services, open_app
from node.intake.sms import signature
from node.services import service as catalogue
from tests.service_templates.conftest import make_node

SMS_TOKEN = "gateway-auth-token"


def run(*args: str):
    return CliRunner().invoke(main, ["service", *args])


def leftovers(services: Path) -> list[str]:
    """Anything in a services folder: staging folders would show up here too."""
    return sorted(p.name for p in services.iterdir()) if services.exists() else []


@pytest.fixture
def bologna(tmp_path) -> Path:
    path = tmp_path / "bologna"
    initialise(
        path=path,
        city="Bologna",
        country="IT",
        population=390_000,
        admin_email="admin@comune.bologna.it",
        languages=["it", "en"],
        districts=["Navile", "Savena"],
        admin_password="correct horse battery",
    )
    return path


@pytest.fixture
def tallinn(tmp_path) -> Path:
    path = tmp_path / "tallinn"
    initialise(
        path=path,
        city="Tallinn",
        country="EE",
        population=450_000,
        admin_email="admin@tallinn.ee",
        languages=["et", "en"],
        admin_password="correct horse battery",
    )
    return path


def test_a_service_generated_in_bologna_and_cloned_into_tallinn_is_hosted_there(bologna, tallinn):
    made = run("new", "issue-report", "--instance", str(bologna), "--set", "sla_hours=48")
    assert made.exit_code == 0, made.output
    cloned = run(
        "clone",
        "issue-report",
        "--from",
        str(bologna),
        "--to",
        str(tallinn),
        "--set",
        "channels=web,app,sms,email",
    )
    assert cloned.exit_code == 0, cloned.output
    assert "cloned from issue-report of Bologna" in cloned.output

    # The node picks the service up when it (re)starts.
    app = open_app(tallinn, SMS_AUTH_TOKEN=SMS_TOKEN)
    report = load_services(app)
    assert report.errors == {}
    with get_db(app).session() as db_session:
        hosted = catalogue.get(db_session=db_session, code="issue-report")
        assert hosted.name == "Teata keskkonnaprobleemist"  # Estonian, Tallinn's language
        assert hosted.channels == ["web", "app", "sms", "email"]
        assert hosted.sla_hours == 48  # Bologna's own answer travels with the clone
        assert hosted.sms_keyword == "TEATA"
        assert hosted.provenance["cloned_from"]["city"] == "Bologna"
        assert hosted.provenance["cloned_from"]["country"] == "IT"
        assert hosted.provenance["template"] == "issue-report"

    # An SMS starting with Tallinn's keyword, posted by the gateway, opens a case in the clone.
    client = app.test_client()
    params = {
        "MessageSid": "SM" + "7" * 32,
        "From": "+3725123456",
        "To": "+3726400000",
        "Body": "TEATA Müra igal ööl Kadrioru pargi juures",
    }
    signed = signature.compute("http://localhost/sms/inbound", params, SMS_TOKEN)
    reply = client.post("/sms/inbound", data=params, headers={signature.HEADER: signed})
    assert reply.status_code == 200
    # The clone's question is asked in Estonian, and the citizen's answer to it is taken.
    assert "Mis liiki probleemiga on tegu?" in reply.get_data(as_text=True)
    answer = params | {"MessageSid": "SM" + "8" * 32, "Body": "2"}  # 2: "Müra"
    signed = signature.compute("http://localhost/sms/inbound", answer, SMS_TOKEN)
    client.post("/sms/inbound", data=answer, headers={signature.HEADER: signed})
    with get_db(app).session() as db_session:
        case = db_session.scalars(sa.select(Case)).one()
        assert case.service_code == "issue-report" and case.channel == "sms"
        assert case.attributes["problem_type"] == "noise"  # "Müra", the Estonian choice
        assert case.tracking_code in reply.get_data(as_text=True)

    services = client.get("/open311/v2/services.json").get_json()
    assert [s["service_code"] for s in services] == ["issue-report"]
    assert services[0]["service_name"] == "Teata keskkonnaprobleemist"
    definition = client.get("/open311/v2/services/issue-report.json").get_json()
    assert "problem_type" in [a["code"] for a in definition["attributes"]]
    listed = client.get("/api/v1/services").get_json()["services"]
    assert listed[0]["provenance"]["cloned_from"]["city"] == "Bologna"
    get_db(app).engine.dispose()

    # Bologna keeps its own: Italian, every channel, its own keyword.
    bologna_app = open_app(bologna)
    load_services(bologna_app)
    with get_db(bologna_app).session() as db_session:
        original = catalogue.get(db_session=db_session, code="issue-report")
        assert original.sms_keyword == "SEGNALA"
        assert original.name == "Segnala un problema ambientale"
        assert "cloned_from" not in original.provenance
    get_db(bologna_app).engine.dispose()


def test_a_clone_renders_the_template_version_the_source_used(tmp_path, templates_copy):
    a = make_node(tmp_path / "a", city="Bologna", country="IT", languages=["it"])
    b = make_node(tmp_path / "b", city="Tallinn", country="EE", languages=["et"])
    assert (
        run(
            "new", "issue-report", "--instance", str(a), "--templates-dir", str(templates_copy)
        ).exit_code
        == 0
    )
    used = json.loads((a / "services/issue-report/provenance.json").read_text())
    # The template moves on after Bologna generated its service...
    readme = templates_copy / "issue-report/{{cookiecutter.service_code}}/README.md"
    readme.write_text(readme.read_text() + "\nA line added in a later template version.\n")
    cloned = run("clone", "issue-report", "--from", str(a), "--to", str(b))
    assert cloned.exit_code == 0, cloned.output
    clone = json.loads((b / "services/issue-report/provenance.json").read_text())
    # ...but the clone is Bologna's version, which it can then update like any service.
    assert clone["template_version"] == used["template_version"]
    assert "later template version" not in (b / "services/issue-report/README.md").read_text()


def test_templates_lists_what_can_be_generated_with_versions():
    result = run("templates", "--variables")
    assert result.exit_code == 0, result.output
    for name in ("issue-report", "alert-subscription", "appointment-booking", "consultation"):
        assert name in result.output
    assert "sla_hours = 72" in result.output
    assert "Hours to resolve a report" in result.output


def test_new_takes_city_language_and_districts_from_the_node(bologna):
    result = run("new", "alert-subscription", "--instance", str(bologna))
    assert result.exit_code == 0, result.output
    spec = catalogue.read_spec(bologna / "services/traffic-alerts/service.toml")
    assert spec.name == "Avvisi sul traffico"
    area = next(a for a in spec.attributes if a.code == "area")
    assert [v.name for v in area.values][1:] == ["Navile", "Savena"]
    listed = run("list", "--instance", str(bologna))
    assert "traffic-alerts\talert-subscription" in listed.output
    assert "city_name=Bologna" in listed.output


def test_list_shows_hand_written_services_too(tmp_path):
    from tests.factories import install_example_services

    node = make_node(tmp_path / "n", city="Bologna", country="IT", languages=["it"])
    install_example_services(node)
    result = run("list", "--instance", str(node))
    assert result.exit_code == 0
    assert "noise-report\thand-written" in result.output


# Bad input: a clear message, a non-zero exit, and nothing half-made left behind.


def test_an_unknown_template_is_refused(tmp_path):
    node = make_node(tmp_path / "n", city="Bologna", country="IT", languages=["it"])
    result = run("new", "parking-permit", "--instance", str(node))
    assert result.exit_code == 1
    assert "unknown template 'parking-permit'; templates: alert-subscription" in result.output
    assert leftovers(node / "services") == []


def test_cloning_a_service_that_does_not_exist_is_refused(tmp_path):
    a = make_node(tmp_path / "a", city="Bologna", country="IT", languages=["it"])
    b = make_node(tmp_path / "b", city="Tallinn", country="EE", languages=["et"])
    result = run("clone", "ghost-service", "--from", str(a), "--to", str(b))
    assert result.exit_code == 1
    assert "no service 'ghost-service'" in result.output
    assert leftovers(b / "services") == []


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("sla_hours=0", "sla_hours: must be at least 1 and at most 8760 hours, not 0"),
        ("nonsense", "--set takes key=value, e.g. sla_hours=48; got 'nonsense'"),
        ("colour=green", "unknown variable colour for template issue-report"),
        ("channels=web,sms,fax", "channels: unknown fax"),
        ("service_code=Noise Report", "service_code: 'Noise Report' is not a slug"),
    ],
)
def test_an_invalid_set_value_is_refused_and_nothing_is_generated(tmp_path, assignment, message):
    node = make_node(tmp_path / "n", city="Bologna", country="IT", languages=["it"])
    result = run("new", "issue-report", "--instance", str(node), "--set", assignment)
    assert result.exit_code == 1
    assert message in result.output
    assert leftovers(node / "services") == []


def test_a_channel_the_node_does_not_offer_is_refused(tmp_path):
    node = make_node(
        tmp_path / "n", city="Bologna", country="IT", languages=["it"], channels=["web", "email"]
    )
    result = run("new", "issue-report", "--instance", str(node), "--set", "channels=web,sms")
    assert result.exit_code == 1
    assert "this node does not offer sms (it offers web, email)" in result.output
    assert leftovers(node / "services") == []
    # Without --set the service takes the channels the node offers, and no SMS keyword.
    result = run("new", "issue-report", "--instance", str(node))
    assert result.exit_code == 0, result.output
    spec = catalogue.read_spec(node / "services/issue-report/service.toml")
    assert [c.value for c in spec.channels] == ["web", "email"] and spec.sms_keyword is None


def test_a_second_service_cannot_take_a_code_or_keyword_already_used(tmp_path):
    node = make_node(tmp_path / "n", city="Bologna", country="IT", languages=["it"])
    assert run("new", "issue-report", "--instance", str(node)).exit_code == 0
    again = run("new", "issue-report", "--instance", str(node))
    assert again.exit_code == 1 and "a service 'issue-report' already exists" in again.output
    clash = run("new", "issue-report", "--instance", str(node), "--set", "service_code=rubbish")
    assert clash.exit_code == 1
    assert "SMS keyword SEGNALA is already used by issue-report" in clash.output
    assert leftovers(node / "services") == ["issue-report"]


def test_commands_on_a_folder_that_is_not_a_node_say_so(tmp_path):
    result = run("new", "issue-report", "--instance", str(tmp_path))
    assert result.exit_code == 1
    assert "is not a node instance: run `carmen node init` first" in result.output


def test_every_command_and_option_has_help():
    import click

    from carmen.cli.service import service

    for name, command in service.commands.items():
        result = CliRunner().invoke(main, ["service", name, "--help"])
        assert result.exit_code == 0 and "Usage: main service " + name in result.output
        assert command.help, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"
                assert param.help.split()[0] in result.output


def test_a_code_hosted_by_a_hand_written_folder_is_refused(tmp_path):
    from tests.factories import EXAMPLE_SERVICES

    node = make_node(tmp_path / "n", city="Bologna", country="IT", languages=["it"])
    (node / "services" / "noise").mkdir()
    spec = (EXAMPLE_SERVICES / "noise-report" / "service.toml").read_text()
    (node / "services" / "noise" / "service.toml").write_text(spec)
    result = run(
        "new", "issue-report", "--instance", str(node), "--set", "service_code=noise-report"
    )
    assert result.exit_code == 1
    assert "another folder of this node already hosts a service 'noise-report'" in result.output
    assert leftovers(node / "services") == ["noise"]
