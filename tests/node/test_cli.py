"""`carmen node` commands as an operator runs them."""

import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.database import get_db
from node.instance import open_app
from node.staff import service as staff
from node.staff.models import Role, StaffUser


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def init(instance, *extra: str):
    return run(
        "node",
        "init",
        "--city",
        "Bologna",
        "--country",
        "IT",
        "--population",
        "390000",
        "--instance",
        str(instance),
        *extra,
    )


def test_init_creates_a_node_whose_admin_can_log_in_with_the_printed_password(tmp_path):
    instance = tmp_path / "bologna"
    result = init(instance, "--admin-email", "admin@comune.bologna.it")
    assert result.exit_code == 0, result.output
    password = result.output.strip().splitlines()[-1]
    app = open_app(instance)
    assert app.config["CITY"] == "Bologna"
    assert app.config["DEFAULT_COUNTRY_CODE"] == "IT"
    with get_db(app).session() as db_session:
        admin = staff.authenticate(
            db_session=db_session, email="admin@comune.bologna.it", password=password
        )
        assert admin is not None and admin.role is Role.ADMIN and admin.must_change_password


def test_init_refuses_an_existing_node_and_keeps_it(tmp_path):
    instance = tmp_path / "bologna"
    first = init(instance)
    again = init(instance)
    assert again.exit_code == 1
    assert "already holds a node" in again.output
    app = open_app(instance)
    with get_db(app).session() as db_session:
        assert staff.authenticate(
            db_session=db_session,
            email="admin@localhost.localdomain",
            password=first.output.strip().splitlines()[-1],
        )


def test_init_with_a_bad_country_leaves_nothing_behind(tmp_path):
    instance = tmp_path / "nowhere"
    result = run(
        "node",
        "init",
        "--city",
        "X",
        "--country",
        "Italy",
        "--population",
        "5",
        "--instance",
        str(instance),
    )
    assert result.exit_code == 1
    assert "two-letter code" in result.output
    assert not instance.exists()


def test_user_create_prints_a_password_on_the_last_line(tmp_path):
    instance = tmp_path / "bologna"
    init(instance)
    result = run(
        "node",
        "user",
        "create",
        "--instance",
        str(instance),
        "--email",
        "Marco@Comune.Bologna.it",
        "--role",
        "caseworker",
        "--department",
        "environment",
    )
    assert result.exit_code == 0, result.output
    password = result.output.strip().splitlines()[-1]
    with get_db(open_app(instance)).session() as db_session:
        user = staff.authenticate(
            db_session=db_session, email="marco@comune.bologna.it", password=password
        )
        assert user.department.code == "environment"


def test_user_create_refuses_a_caseworker_without_department_and_adds_nobody(tmp_path):
    instance = tmp_path / "bologna"
    init(instance)
    result = run(
        "node",
        "user",
        "create",
        "--instance",
        str(instance),
        "--email",
        "a@b.it",
        "--role",
        "caseworker",
    )
    assert result.exit_code == 1
    assert "give --department" in result.output
    with get_db(open_app(instance)).session() as db_session:
        assert db_session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 1


def test_commands_on_a_folder_that_is_not_a_node_say_so(tmp_path):
    result = run("node", "services", "--instance", str(tmp_path))
    assert result.exit_code == 1
    assert "run `carmen node init` first" in result.output


def test_services_lists_valid_specs_and_reports_broken_ones(tmp_path):
    from tests.factories import install_example_services

    instance = tmp_path / "bologna"
    init(instance)
    install_example_services(instance)
    broken = instance / "services" / "broken"
    broken.mkdir()
    (broken / "service.toml").write_text('code = "broken"\nsla_hours = 0\n')
    result = CliRunner().invoke(main, ["node", "services", "--instance", str(instance)])
    assert result.exit_code == 1
    assert "noise-report\tNoise report" in result.output
    assert "broken" in result.output and "sla_hours" in result.output


def test_every_command_has_help():
    for args in (
        ["node"],
        ["node", "init"],
        ["node", "serve"],
        ["node", "user", "create"],
        ["node", "services"],
    ):
        result = run(*args, "--help")
        assert result.exit_code == 0
        assert "Usage:" in result.output and len(result.output.splitlines()) > 3
