"""A node pushing its snapshots to the hub through faults: nothing lost, nothing counted twice."""

import os
import random
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from werkzeug.serving import make_server

from carmen.cli import main
from federation.hub.aggregates.models import AggregateCell
from federation.hub.database import get_db as hub_db
from federation.hub.database import utcnow as hub_now
from federation.hub.nodes import service as hub_nodes
from federation.hub.nodes.models import Node
from federation.protocol.client import push_snapshot
from federation.protocol.measures import snapshot_rows
from federation.protocol.models import MetricsSnapshot
from node.database import get_db as node_db
from node.sync import service as sync
from node.sync.models import SyncPeriod
from tests.factories import make_case, make_node_app, seed_month
from tests.federation.factories import make_registration

TRIALS = int(os.environ.get("CARMEN_FAULT_TRIALS", "100"))
# The transport is under test in the fault trials, not the protection: every change is let
# through (a protection width of 0 leaves only k), so that both sides must agree exactly.
TRANSPORT_ONLY = sync.ReleaseSettings(protection_width=0)


def enrollment_token(hub_app, city="Bologna", country="IT") -> str:
    with hub_app.app_context(), hub_db(hub_app).session() as session:
        token, _ = hub_nodes.create_enrollment_token(
            db_session=session, city=city, country=country, now=hub_now(), ttl_hours=1
        )
        session.commit()
    return token


def enroll_in_process(hub_app, node_app, transport) -> None:
    """Enroll the node through the hub endpoint, as `carmen node enroll` does."""
    from tests.federation.factories import NodeIdentity

    key = sync.load_or_create_key(Path(node_app.instance_path))
    identity = NodeIdentity("it-bologna", "Bologna", "IT", key)
    registration = make_registration(identity)
    with httpx.Client(transport=transport, base_url="http://hub") as http:
        answer = http.post(
            "/api/v1/enroll",
            json={
                "token": enrollment_token(hub_app),
                "registration": registration.model_dump(mode="json"),
            },
        )
    assert answer.status_code == 201, answer.text
    with node_db(node_app).session() as session:
        sync.save_link(
            db_session=session,
            hub_url="http://hub",
            node_slug="it-bologna",
            node_id=answer.json()["node_id"],
            k=answer.json()["k"],
        )
        session.commit()


def hub_rows(hub_app) -> set[tuple]:
    with hub_db(hub_app).session() as session:
        return set(
            session.execute(
                sa.select(
                    AggregateCell.period,
                    AggregateCell.service_code,
                    AggregateCell.segment,
                    AggregateCell.channel,
                    AggregateCell.measure,
                    AggregateCell.value,
                )
            )
        )


def node_rows(node_app) -> set[tuple]:
    rows = set()
    with node_db(node_app).session() as session:
        for period in sync.all_periods(db_session=session):
            snapshot = MetricsSnapshot.model_validate(period.payload)
            rows |= {
                (
                    snapshot.period,
                    r["service_code"],
                    r["segment"],
                    r["channel"],
                    r["measure"],
                    r["value"],
                )
                for r in snapshot_rows(snapshot)
            }
    return rows


class FaultyHub(httpx.BaseTransport):
    """The hub over an in-process WSGI transport, with network and hub faults injected."""

    def __init__(self, hub_app, rng: random.Random):
        self.inner = httpx.WSGITransport(app=hub_app)
        self.rng = rng
        self.faults = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self.rng.choice(["ok", "ok", "down", "unavailable", "lost_ack", "duplicate"])
        if not self.faults or fault == "ok":
            return self.inner.handle_request(request)
        if fault == "down":
            raise httpx.ConnectError("hub down", request=request)
        if fault == "unavailable":  # the hub restarting: its proxy answers 503
            return httpx.Response(503, json={"message": "restarting"})
        response = self.inner.handle_request(request)
        response.read()
        if fault == "lost_ack":  # stored at the hub, but the node never hears back
            raise httpx.ReadError("connection reset", request=request)
        # duplicate: the network delivers the same request twice
        again = httpx.Request(
            request.method, request.url, headers=request.headers, content=request.content
        )
        self.inner.handle_request(again).read()
        return response


@pytest.fixture
def node_app(tmp_path):
    app = make_node_app(tmp_path / "node")
    yield app
    node_db(app).engine.dispose()


@pytest.mark.heavy  # randomised fault trials
def test_hub_totals_equal_node_totals_after_every_faulty_trial(hub_app, node_app, monkeypatch):
    rng = random.Random(20261130)
    transport = FaultyHub(hub_app, rng)
    transport.faults = False
    enroll_in_process(hub_app, node_app, transport)
    transport.faults = True
    key = sync.load_or_create_key(Path(node_app.instance_path))
    sent: list[MetricsSnapshot] = []

    # A hub that crashes in the middle of an ingest rolls back everything of that request.
    from federation.hub.aggregates import service as hub_aggregates

    real_replace = hub_aggregates.replace_cells

    def crashing_replace(**kwargs):
        if rng.random() < 0.1:
            raise RuntimeError("hub process killed mid-ingest")
        return real_replace(**kwargs)

    monkeypatch.setattr(hub_aggregates, "replace_cells", crashing_replace)

    with httpx.Client(transport=transport, base_url="http://hub") as http:
        for trial in range(TRIALS):
            with node_db(node_app).session() as session:
                seed_month(
                    session,
                    year=2026,
                    month=rng.randint(1, 4),
                    cases=rng.randint(1, 6),
                    rng=rng,
                    prefix=f"T{trial % 10}",
                )
                sync.refresh_outbox(db_session=session, release=TRANSPORT_ONLY)
                session.commit()
                for row in sync.pending_periods(db_session=session):
                    snapshot = sync.snapshot_to_send(db_session=session, period=row.period)
                    sent.append(snapshot)
                    if rng.random() < 0.15:
                        # The node crashes after sending, before writing the acknowledgement.
                        push_snapshot(
                            hub_url="http://hub", snapshot=snapshot, private_key=key, client=http
                        )
                        continue
                    sync.push_period(db_session=session, period=row.period, key=key, http=http)
                    session.commit()
                if sent and rng.random() < 0.3:
                    # A delayed delivery of an older revision arrives after newer ones.
                    push_snapshot(
                        hub_url="http://hub",
                        snapshot=rng.choice(sent),
                        private_key=key,
                        client=http,
                    )
            # Once the faults clear, the outbox drains and both sides agree exactly.
            transport.faults = False
            monkeypatch.setattr(hub_aggregates, "replace_cells", real_replace)
            with node_db(node_app).session() as session:
                for _ in range(3):
                    for row in sync.pending_periods(db_session=session):
                        sync.push_period(db_session=session, period=row.period, key=key, http=http)
                        session.commit()
                assert sync.pending_periods(db_session=session) == []
            assert hub_rows(hub_app) == node_rows(node_app), f"trial {trial}"
            transport.faults = True
            monkeypatch.setattr(hub_aggregates, "replace_cells", crashing_replace)


@contextmanager
def serving(app, port: int = 0):
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", server.server_port
    finally:
        server.shutdown()
        server.server_close()


def bologna_with_february(node_app) -> str:
    """The node's instance with its settings file written, and 40 requests in February 2026."""
    instance = node_app.instance_path
    (Path(instance) / "node.toml").write_text(
        'city = "Bologna"\ncountry = "IT"\npopulation = 390000\nsecret_key = "test"\n'
    )
    with node_db(node_app).session() as session:
        seed_month(session, year=2026, month=2, cases=40, rng=random.Random(5))
        session.commit()
    return instance


def test_a_node_enrolls_and_syncs_over_http_and_catches_up_after_the_hub_was_down(
    hub_app, node_app
):
    instance = bologna_with_february(node_app)
    runner = CliRunner()
    with serving(hub_app) as (url, port):
        result = runner.invoke(
            main,
            [
                "node",
                "enroll",
                "--instance",
                instance,
                "--hub",
                url,
                "--token",
                enrollment_token(hub_app),
            ],
        )
        assert result.exit_code == 0, result.output
        assert "enrolled as it-bologna" in result.output
    # The hub is down: the sync fails clearly and the month stays pending.
    result = runner.invoke(main, ["node", "sync", "--instance", instance, "--now"])
    assert result.exit_code == 1
    assert "2026-02\tretry" in result.output
    status = runner.invoke(main, ["node", "sync-status", "--instance", instance])
    assert "pending, 0 acknowledged" in status.output
    assert "1 pending" in status.output or "2 pending" in status.output  # resolutions may spill
    with serving(hub_app, port):
        result = runner.invoke(main, ["node", "sync", "--instance", instance, "--now"])
        assert result.exit_code == 0, result.output
        assert "acknowledged, 0 not" in result.output
    assert hub_rows(hub_app) == node_rows(node_app)
    with hub_db(hub_app).session() as session:
        assert session.scalar(sa.select(Node.last_sync_at)) is not None
    with node_db(node_app).session() as session:
        assert session.get(SyncPeriod, "2026-02").acknowledged_revision == 1


def test_no_personal_data_reaches_any_row_at_the_hub(hub_app, node_app):
    from federation.hub.database import get_db as hub_database
    from node.cases.models import Case
    from node.profiles.models import Citizen

    rng = random.Random(8)
    transport = FaultyHub(hub_app, rng)
    transport.faults = False
    enroll_in_process(hub_app, node_app, transport)
    key = sync.load_or_create_key(Path(node_app.instance_path))
    with node_db(node_app).session() as session:
        seed_month(session, year=2026, month=6, cases=80, rng=rng, prefix="PV")
        sync.refresh_outbox(db_session=session)
        session.commit()
        with httpx.Client(transport=transport, base_url="http://hub") as http:
            for row in sync.pending_periods(db_session=session):
                assert sync.push_period(
                    db_session=session, period=row.period, key=key, http=http
                ).acknowledged
                session.commit()
        canaries = [
            c.casefold()
            for citizen in session.scalars(sa.select(Citizen))
            for c in (citizen.name, citizen.email, citizen.phone)
            if c
        ]
        canaries += [
            c.casefold()
            for case in session.scalars(sa.select(Case))
            for c in (case.tracking_code, case.description, case.address)
        ]
    url = hub_database(hub_app).engine.url.database
    import sqlite3

    dump = "\n".join(sqlite3.connect(url).iterdump()).casefold()
    assert "aggregate_cells" in dump
    assert [c for c in canaries if c in dump] == []
    assert "canary" not in dump and "segreta" not in dump


def test_sync_and_sync_status_show_the_months_held_back_and_why(hub_app, node_app):
    instance = bologna_with_february(node_app)
    runner = CliRunner()
    with serving(hub_app) as (url, _port):
        token = enrollment_token(hub_app)
        enroll = ["node", "enroll", "--instance", instance, "--hub", url, "--token", token]
        assert runner.invoke(main, enroll).exit_code == 0
        first = runner.invoke(main, ["node", "sync", "--instance", instance, "--now"])
        assert first.exit_code == 0, first.output
        before = hub_rows(hub_app)
        with node_db(node_app).session() as session:
            # One late request to a month already sent, and one in the month still open.
            make_case(session, channel="sms", now=datetime(2026, 2, 20, 9, tzinfo=UTC))
            make_case(session, channel="web")
            session.commit()
        result = runner.invoke(main, ["node", "sync", "--instance", instance, "--now"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(
        line.startswith("2026-02\theld\tthe change since the last release") for line in lines
    )
    this_month = datetime.now(UTC).strftime("%Y-%m")
    assert any(
        line.startswith(f"{this_month}\theld\tin its grace period until") for line in lines
    ), result.output
    assert lines[-1] == "nothing to send; 2 held back"
    assert hub_rows(hub_app) == before  # the hub keeps what it had
    status = runner.invoke(main, ["node", "sync-status", "--instance", instance])
    assert "2026-02\theld back: the change since the last release" in status.output
    assert status.output.rstrip().endswith("acknowledged, 2 held back")
