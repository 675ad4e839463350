"""The demo a newcomer runs: real cities, templates, a pilot, the sync and the judgement."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from carmen.demo import DemoState, Ports, prepare
from federation.hub.aggregates.models import AggregateCell
from federation.hub.app import create_app as create_hub
from federation.hub.database import get_db as hub_db
from federation.hub.evaluations.models import EvaluationRun
from federation.hub.nodes.models import Node
from node.cases.models import Case
from node.database import get_db
from node.instance import open_app
from node.services.models import Service
from node.staff import service as staff

pytestmark = pytest.mark.heavy


def test_a_small_demo_federation_is_built_synced_and_evaluated(tmp_path, unused_ports):
    root = tmp_path / "demo"
    state = prepare(
        root=root,
        fresh=False,
        cities=["Bologna", "Tallinn"],
        months=3,
        ports=unused_ports,
    )
    assert set(state.nodes) == {"it-bologna", "ee-tallinn"}
    bologna, tallinn = (open_app(tmp_path / "demo" / slug) for slug in state.nodes)
    with get_db(tallinn).session() as session:
        services = {s.code: s.provenance for s in session.scalars(sa.select(Service))}
        channels = set(session.scalars(sa.select(Case.channel)))
        assert session.scalar(sa.select(sa.func.count()).select_from(Case)) > 20
    assert services["issue-report"]["cloned_from"]["city"] == "Bologna"
    assert {"app", "web", "phone"} <= channels
    hub = create_hub({"INSTANCE_PATH": root / "hub"})
    with hub_db(hub).session() as session:
        assert {n.slug for n in session.scalars(sa.select(Node))} == set(state.nodes)
        assert session.scalar(sa.select(sa.func.count()).select_from(AggregateCell)) > 0
        assert [r.status for r in session.scalars(sa.select(EvaluationRun))] == ["done"]
    with get_db(bologna).session() as session:
        for login in state.logins:
            if login.where == "it-bologna":
                assert staff.authenticate(
                    db_session=session, email=login.login, password=login.password
                ), login.role


def test_a_second_run_reuses_the_demo(tmp_path):
    root = tmp_path / "demo"
    root.mkdir()
    DemoState(nodes={"it-bologna": str(root / "it-bologna")}, hub=str(root / "hub")).save(root)
    again = prepare(root=root, fresh=False, ports=Ports())
    assert again.nodes == {"it-bologna": str(root / "it-bologna")}


def test_demo_help_explains_what_it_builds():
    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0
    assert "fourteen real European cities" in result.output


def test_simulate_plays_months_of_requests_on_existing_nodes(tmp_path, unused_ports):
    state = prepare(
        root=tmp_path / "demo",
        fresh=False,
        scale=0.1,
        cities=["Tallinn"],
        months=1,
        ports=unused_ports,
    )
    instance = Path(state.nodes["ee-tallinn"])
    with get_db(open_app(instance)).session() as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(Case))
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--instance",
            instance,
            "--months",
            "2",
            "--citizens",
            "20",
            "--scale",
            "0.1",
            "--port",
            str(unused_ports.nodes),
        ],
    )
    assert result.exit_code == 0, result.output
    played = int(result.output.split(" requests")[0].split()[-1])
    with get_db(open_app(instance)).session() as session:
        after = session.scalar(sa.select(sa.func.count()).select_from(Case))
    assert played > 0 and after - before == played
