"""`carmen node api-key` as an operator runs it: keys for apps, their scopes, revoking them."""

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.database import get_db
from node.errors import Forbidden
from node.instance import open_app
from node.intake import clients
from node.intake.models import ClientApplication, ClientKind, ClientScope


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def make_node(tmp_path):
    instance = tmp_path / "bologna"
    created = run(
        "node", "init", "--city", "Bologna", "--country", "IT", "--population", "390000",
        "--instance", str(instance),
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    return instance


def test_the_printed_key_lets_the_app_in_and_is_not_stored_in_clear(tmp_path):
    instance = make_node(tmp_path)
    result = run(
        "node", "api-key", "create", "--instance", str(instance), "--name", "Bologna Segnala"
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    app = open_app(instance)
    with get_db(app).session() as db_session:
        client = clients.authenticate(db_session=db_session, api_key=key)
        assert (client.name, client.kind) == ("Bologna Segnala", ClientKind.APP)
        stored = db_session.execute(sa.select(ClientApplication.__table__)).one()
        assert key not in [str(value) for value in stored]
    get_db(app).engine.dispose()


def test_a_web_client_is_registered_as_such(tmp_path):
    instance = make_node(tmp_path)
    result = run(
        "node", "api-key", "create", "--instance", str(instance), "--name", "Portal widget",
        "--kind", "web",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    app = open_app(instance)
    with get_db(app).session() as db_session:
        key = result.output.strip().splitlines()[-1]
        assert clients.authenticate(db_session=db_session, api_key=key).kind is ClientKind.WEB
    get_db(app).engine.dispose()


def test_a_blank_name_is_refused_and_nothing_registered(tmp_path):
    instance = make_node(tmp_path)
    result = run("node", "api-key", "create", "--instance", str(instance), "--name", "  ")
    assert result.exit_code == 1
    assert "needs a name" in result.output
    app = open_app(instance)
    with get_db(app).session() as db_session:
        assert db_session.scalar(sa.select(sa.func.count(ClientApplication.id))) == 0
    get_db(app).engine.dispose()


def test_an_unknown_instance_is_explained(tmp_path):
    result = run("node", "api-key", "create", "--instance", str(tmp_path / "x"), "--name", "A")
    assert result.exit_code == 1
    assert "not a node instance" in result.output


def _key(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_a_city_app_gets_a_full_scope_and_an_operator_changes_and_revokes_keys(tmp_path):
    instance = make_node(tmp_path)
    base = ("node", "api-key")
    city_app = run(*base, "create", "--instance", str(instance), "--name", "Bologna Segnala",
                   "--scope", "full")  # fmt: skip
    other = run(*base, "create", "--instance", str(instance), "--name", "Other app")
    assert "reads full" in city_app.output and "reads public" in other.output
    listed = run(*base, "list", "--instance", str(instance))
    assert listed.exit_code == 0
    rows = [line.split("\t") for line in listed.output.strip().splitlines()]
    assert [(r[0], r[1], r[3], r[5]) for r in rows] == [
        ("1", "Bologna Segnala", "full", "active"),
        ("2", "Other app", "public", "active"),
    ]
    narrowed = run(*base, "scope", "--instance", str(instance), "1", "public")
    assert narrowed.exit_code == 0 and "reads public" in narrowed.output
    revoked = run(*base, "revoke", "--instance", str(instance), "2")
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    app = open_app(instance)
    with get_db(app).session() as db_session:
        kept = clients.authenticate(db_session=db_session, api_key=_key(city_app.output))
        assert kept.scope is ClientScope.PUBLIC, "the same key, with its new scope"
        with pytest.raises(Forbidden):
            clients.authenticate(db_session=db_session, api_key=_key(other.output))
    get_db(app).engine.dispose()


def test_changing_a_client_that_does_not_exist_is_explained(tmp_path):
    instance = make_node(tmp_path)
    result = run("node", "api-key", "scope", "--instance", str(instance), "7", "full")
    assert result.exit_code == 1 and "no client application 7" in result.output
    wrong = run("node", "api-key", "scope", "--instance", str(instance), "7", "everything")
    assert wrong.exit_code == 2 and "public" in wrong.output
