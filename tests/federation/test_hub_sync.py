"""Sync semantics at the hub: per (node, period) the highest revision wins, whatever the order."""

import random
from collections import defaultdict

import pytest
import sqlalchemy as sa

from federation.hub.database import get_db
from federation.protocol.measures import snapshot_rows
from federation.protocol.vocabulary import AgeBand, Channel
from tests.federation.conftest import enroll, make_hub, stored_counts
from tests.federation.factories import (
    SNAPSHOTS_PATH,
    body_of,
    make_identity,
    make_snapshot,
    signed_headers,
)


def hub_cells(app, node: str) -> dict[tuple, int]:
    """Every stored value of a node, keyed by period, service, segment, channel and measure."""
    query = sa.text(
        "SELECT c.period, c.service_code, c.segment, c.channel, c.measure, c.value "
        "FROM aggregate_cells c JOIN nodes n ON n.id = c.node_id WHERE n.slug = :node"
    )
    with get_db(app).engine.connect() as conn:
        return {tuple(row[:5]): row[5] for row in conn.execute(query, {"node": node})}


def expected_cells(snapshots) -> dict[tuple, int]:
    """What the hub must hold: the rows of each period's latest revision."""
    latest = {}
    for snapshot in snapshots:
        if snapshot.period not in latest or snapshot.revision > latest[snapshot.period].revision:
            latest[snapshot.period] = snapshot
    cells = {}
    for snapshot in latest.values():
        for row in snapshot_rows(snapshot):
            key = (
                snapshot.period,
                row["service_code"],
                row["segment"],
                row["channel"],
                row["measure"],
            )
            cells[key] = row["value"]
    return cells


def test_a_higher_revision_replaces_the_stored_one(enrolled, push, hub_app):
    node = enrolled("bologna")
    first, second = make_snapshot("bologna", revision=1), make_snapshot("bologna", revision=2)
    assert push(node, first).json["status"] == "stored"
    response = push(node, second)
    assert response.json == {
        "status": "stored",
        "node": "bologna",
        "period": "2025-03",
        "revision": 2,
        "stored_revision": 2,
    }
    assert hub_cells(hub_app, "bologna") == expected_cells([second])


def test_the_same_revision_with_the_same_content_is_a_no_op(enrolled, push, hub_app):
    node = enrolled("bologna")
    snapshot = make_snapshot("bologna")
    push(node, snapshot)
    before = hub_cells(hub_app, "bologna")
    again = push(node, snapshot)
    assert again.status_code == 200
    assert again.json["status"] == "unchanged"
    assert hub_cells(hub_app, "bologna") == before


def test_pending_periods_do_not_count_as_content(enrolled, push):
    node = enrolled("bologna")
    push(node, make_snapshot("bologna", pending_periods=["2025-03", "2025-04"]))
    again = push(node, make_snapshot("bologna", pending_periods=[]))
    assert again.json["status"] == "unchanged"


def test_the_same_revision_with_other_content_is_a_conflict(enrolled, push, hub_app):
    node = enrolled("bologna")
    push(node, make_snapshot("bologna", revision=3))
    before = (hub_cells(hub_app, "bologna"), stored_counts(hub_app))
    other = make_snapshot("bologna", revision=3, rng=random.Random(99))
    response = push(node, other)
    assert response.status_code == 409
    assert response.json["error"] == "conflict"
    assert "higher revision" in response.json["message"]
    assert (hub_cells(hub_app, "bologna"), stored_counts(hub_app)) == before


def test_a_lower_revision_is_acknowledged_and_ignored(enrolled, push, hub_app):
    node = enrolled("bologna")
    newer = make_snapshot("bologna", revision=5)
    push(node, newer)
    response = push(node, make_snapshot("bologna", revision=4))
    assert response.status_code == 200
    assert response.json["status"] == "ignored_lower_revision"
    assert response.json["stored_revision"] == 5
    assert hub_cells(hub_app, "bologna") == expected_cells([newer])


def test_periods_are_kept_apart(enrolled, push, hub_app):
    node = enrolled("bologna")
    march, april = make_snapshot("bologna", "2025-03"), make_snapshot("bologna", "2025-04", 7)
    push(node, march)
    push(node, april)
    assert hub_cells(hub_app, "bologna") == expected_cells([march, april])


def test_a_crash_in_the_middle_of_ingest_keeps_nothing_half_stored(
    enrolled, push, hub_app, monkeypatch
):
    node = enrolled("bologna")
    old = make_snapshot("bologna", revision=1)
    push(node, old)
    from federation.hub.aggregates import service as aggregates

    def crash(**_kwargs):
        raise RuntimeError("power cut")

    # Cells of revision 2 are written, then the process dies before commit.
    monkeypatch.setattr(aggregates, "record_services", crash)
    new = make_snapshot("bologna", revision=2)
    response = push(node, new)
    assert response.status_code == 500
    assert response.json["error"] == "internal_error"
    assert hub_cells(hub_app, "bologna") == expected_cells([old])
    monkeypatch.undo()
    assert push(node, new).json["status"] == "stored"  # the node's retry lands
    assert hub_cells(hub_app, "bologna") == expected_cells([new])


SEED = 20250301
TRIALS = 200


@pytest.mark.heavy  # randomised fault trials
def test_randomised_deliveries_leave_exactly_the_latest_revisions(
    tmp_path, migrated_hub_db, monkeypatch
):
    """Duplicates, reordering, lost answers, replays, crashes and restarts: totals stay exact."""
    from federation.hub.aggregates import service as aggregates

    real_record_services = aggregates.record_services
    instance = tmp_path / "hub"
    app = make_hub(instance, migrated_hub_db)
    master = random.Random(SEED)
    outcomes: dict[str, int] = defaultdict(int)
    for trial in range(TRIALS):
        rng = random.Random(master.getrandbits(64))
        identity = make_identity(f"node-{trial}")
        enroll(app, identity)
        snapshots = []
        for month in range(1, rng.randint(1, 2) + 1):
            for revision in sorted(rng.sample(range(1, 20), rng.randint(1, 3))):
                snapshots.append(
                    make_snapshot(
                        identity.slug,
                        f"2025-{month:02d}",
                        revision,
                        rng=rng,
                        services=[{"code": "noise", "template": "noise_report"}],
                        channels=(Channel.WEB,),
                        segments=(AgeBand.A75_PLUS,),
                    )
                )
        # Every revision is sent at least once, some several times, in any order.
        deliveries = [s for s in snapshots for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        rng.shuffle(deliveries)
        last_request = None
        acknowledged: dict[str, int] = {}
        for snapshot in deliveries:
            event = rng.random()
            if event < 0.03:  # the hub restarts between two deliveries
                get_db(app).engine.dispose()
                app = make_hub(instance, migrated_hub_db)
                outcomes["restart"] += 1
            if event > 0.96:  # the hub dies mid-ingest, after writing some cells

                def crash(**_kwargs):
                    raise RuntimeError("killed")

                monkeypatch.setattr(aggregates, "record_services", crash)
            body = body_of(snapshot)
            headers = signed_headers(identity, body)
            response = app.test_client().post(SNAPSHOTS_PATH, data=body, headers=headers)
            monkeypatch.setattr(aggregates, "record_services", real_record_services)
            outcomes[str(response.status_code)] += 1
            assert response.status_code in (200, 500), response.json
            if response.status_code == 200:
                acknowledged[snapshot.period] = max(
                    acknowledged.get(snapshot.period, 0), snapshot.revision
                )
            if last_request is not None and rng.random() < 0.2:
                # The network delivers an old request twice: the hub refuses the replay.
                replay = app.test_client().post(
                    SNAPSHOTS_PATH, data=last_request[0], headers=last_request[1]
                )
                assert replay.status_code == 401
                outcomes["replay"] += 1
            # Only an accepted request's nonce is kept; a crashed one may lawfully come again.
            last_request = (body, headers) if response.status_code == 200 else None
        # The node's outbox: a period whose latest revision was not acknowledged is sent again.
        latest = {}
        for snapshot in snapshots:
            latest[snapshot.period] = max(
                latest.get(snapshot.period, snapshot), snapshot, key=lambda s: s.revision
            )
        for snapshot in latest.values():
            if acknowledged.get(snapshot.period, 0) >= snapshot.revision:
                continue
            body = body_of(snapshot)
            response = app.test_client().post(
                SNAPSHOTS_PATH, data=body, headers=signed_headers(identity, body)
            )
            assert response.status_code == 200
            assert response.json["stored_revision"] == snapshot.revision
        assert hub_cells(app, identity.slug) == expected_cells(snapshots), f"trial {trial}"
    # The trials really exercised each fault.
    assert outcomes["restart"] > 0 and outcomes["500"] > 0 and outcomes["replay"] > 0
    get_db(app).engine.dispose()


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_node_totals_equal_hub_totals_in_either_order(enrolled, push, hub_app, order):
    node = enrolled("bologna")
    revisions = [make_snapshot("bologna", revision=r) for r in (1, 2, 3)]
    for snapshot in revisions if order == "forward" else reversed(revisions):
        assert push(node, snapshot).status_code == 200
    assert hub_cells(hub_app, "bologna") == expected_cells(revisions)
