"""Snapshot schema versions: the hub keeps taking what older nodes send, exactly as before.

Version 2 counts rescheduled and cancelled bookings; a node of the previous release sends
version 1 without them. The digests below are the ones the previous release computed for the
same snapshot (the hub's stored content digest, the node's outbox content hash): a month stored
or built before an upgrade must still be recognised as the same content after it, or a resend
would be a 409 at the hub and a node would never see its month acknowledged.
"""

import json

import pytest
import sqlalchemy as sa

from federation.hub.database import get_db
from federation.hub.ingest.service import content_digest
from federation.hub.nodes.models import StoredSnapshot
from federation.protocol.models import MetricsSnapshot
from node.sync.snapshots import content_hash
from tests.federation.conftest import stored_counts

VERSION_1 = {
    "schema_version": 1,
    "node": "bologna",
    "period": "2025-03",
    "revision": 3,
    "k": 10,
    "services": [{"code": "slots", "template": "appointment-booking", "template_version": "1.0.0"}],
    "cells": [
        {
            "service": "slots",
            "measures": {"citizens": 40, "events": {"booked": 52, "attended": 30, "no_show": 12}},
        },
        {
            "service": "slots",
            "channel": "web",
            "measures": {"citizens": 25, "events": {"booked": 31, "attended": 18}},
        },
        {
            "service": "slots",
            "segment": "25-54",
            "measures": {"citizens": 22, "events": {"booked": 28}},
        },
    ],
}
# Computed by the previous release (schema version 1 only) for VERSION_1.
HUB_DIGEST_BEFORE = "d07e75182d9da763de0ca6f2c0060e81075423c5ab1dd3e7d640f8f758e688bc"
NODE_HASH_BEFORE = "f25f3404cc83efb81df1214e8debf16a27bba56385098a87590873075eb25a2d"


def body(data: dict) -> bytes:
    return json.dumps(data).encode()


def test_a_version_1_snapshot_digests_as_the_previous_release_stored_it():
    snapshot = MetricsSnapshot.model_validate(VERSION_1)
    assert content_digest(snapshot) == HUB_DIGEST_BEFORE
    assert content_hash(snapshot) == NODE_HASH_BEFORE


def test_an_older_node_s_snapshot_is_stored_and_its_resend_is_unchanged(enrolled, push, hub_app):
    node = enrolled("bologna")
    first = push(node, body(VERSION_1))
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.json["status"] == "stored"
    with get_db(hub_app).session() as session:
        stored = session.scalars(sa.select(StoredSnapshot)).one()
        assert stored.content_digest == HUB_DIGEST_BEFORE
    again = push(node, body(VERSION_1))
    assert again.status_code == 200
    assert again.json["status"] == "unchanged"


def test_a_new_node_s_snapshot_carries_rescheduled_and_cancelled_bookings(enrolled, push, hub_app):
    node = enrolled("bologna")
    data = json.loads(json.dumps(VERSION_1)) | {"schema_version": 2}
    data["cells"][0]["measures"]["events"] |= {"rescheduled": 14, "cancelled": 11}
    response = push(node, body(data))
    assert response.status_code == 200, response.get_data(as_text=True)
    query = sa.text(
        "SELECT measure, value FROM aggregate_cells WHERE channel = 'all' AND segment = 'all'"
    )
    with get_db(hub_app).engine.connect() as conn:
        totals = dict(conn.execute(query).all())
    assert (totals["rescheduled"], totals["cancelled"]) == (14, 11)


@pytest.mark.parametrize("event", ["rescheduled", "cancelled"])
def test_a_version_1_snapshot_with_counts_version_1_never_had_is_refused(
    enrolled, push, hub_app, event
):
    node = enrolled("bologna")
    data = json.loads(json.dumps(VERSION_1))
    data["cells"][0]["measures"]["events"][event] = 12
    response = push(node, body(data))
    assert response.status_code == 422
    assert f"events.{event} is not part of schema version 1" in response.get_data(as_text=True)
    assert stored_counts(hub_app)["snapshots"] == 0


@pytest.mark.parametrize("event", ["rescheduled", "cancelled"])
def test_a_rescheduled_or_cancelled_count_below_k_is_refused(enrolled, push, hub_app, event):
    node = enrolled("bologna")
    data = json.loads(json.dumps(VERSION_1)) | {"schema_version": 2}
    data["cells"][0]["measures"]["events"][event] = 3
    response = push(node, body(data))
    assert response.status_code == 422
    assert response.json["details"][0]["rule"] == "below_k"
    assert stored_counts(hub_app)["snapshots"] == 0
