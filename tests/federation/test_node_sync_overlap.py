"""Two syncs of one node at once, with an event recorded between them: the hub ends up with
exactly what the node's event log holds, on SQLite and on PostgreSQL."""

import threading
import time

import pytest

from node.cases.models import EventKind
from node.database import get_db as node_db
from node.sync import service as sync
from node.sync import snapshots
from tests.factories import make_template_node_app
from tests.federation.test_node_sync_events import (
    built_cells,
    hub_cells,
    record_kind,
    service_of,
    sync_over_http,
    total_at_hub,
)

TRANSPORT_ONLY = sync.ReleaseSettings(grace_days=0, protection_width=0)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def node_app(request, tmp_path, monkeypatch):
    # The serialisation is under test, not the protection: every change is let through (a
    # protection width of 0 leaves only k), so that hub and event log must agree exactly.
    monkeypatch.setattr(sync, "release_settings", lambda settings: TRANSPORT_ONLY)
    overrides = {}
    if request.param == "postgresql":
        overrides["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = make_template_node_app(tmp_path / "node", **overrides)
    yield app
    node_db(app).engine.dispose()


def test_a_sync_paused_in_its_build_while_a_second_runs_and_an_event_arrives_loses_nothing(
    hub_app, node_app, hub_url, monkeypatch
):
    code = service_of(node_app, "bookings").code
    record_kind(node_app, kind=EventKind.BOOKED, service_code=code, citizens=12)
    sync_over_http(node_app)
    record_kind(node_app, kind=EventKind.BOOKED, service_code=code, citizens=1)

    paused, resume = threading.Event(), threading.Event()
    real = snapshots.aggregate_periods

    def build_then_pause(**options):
        found = real(**options)
        if not paused.is_set():  # the first build only: it waits here, holding what it read
            paused.set()
            resume.wait(60)
        return found

    monkeypatch.setattr(snapshots, "aggregate_periods", build_then_pause)
    errors: list[BaseException] = []

    def run(target, **options):
        def body():
            try:
                target(**options)
            except BaseException as exc:  # reported by the test below
                errors.append(exc)

        thread = threading.Thread(target=body)
        thread.start()
        return thread

    first = run(sync_over_http, node_app=node_app)
    assert paused.wait(60)
    # While the first sync is inside its build: a new booking, and a second sync beside it.
    booking = run(
        record_kind, node_app=node_app, kind=EventKind.BOOKED, service_code=code, citizens=1
    )
    second = run(sync_over_http, node_app=node_app)
    time.sleep(0.5)  # both reach the log and the lease; neither may overtake the build
    resume.set()
    for thread in (first, booking, second):
        thread.join(120)
    assert errors == []
    sync_over_http(node_app)  # the next beat: whatever came after the second build
    with node_db(node_app).session() as session:
        assert sync.pending_periods(db_session=session) == []
    assert total_at_hub(hub_app, service=code, common="booked") == 14
    assert hub_cells(hub_app) == built_cells(node_app)


def test_a_second_sync_waits_for_the_first_and_gives_up_with_a_clear_error(node_app, hub_url):
    busy = "another sync of this node is running"
    with node_db(node_app).session() as holder, node_db(node_app).session() as other:
        with (
            sync.sync_lease(db_session=holder),
            pytest.raises(sync.SyncBusy, match=busy),
            sync.sync_lease(db_session=other, wait_seconds=0),
        ):
            pass
        with sync.sync_lease(db_session=other, wait_seconds=0):
            pass  # free again once the first ended
