"""Every refused push gets a clear status and JSON body, and leaves nothing stored at the hub."""

import time

import pytest

from federation.protocol.signing import HEADER_SIGNATURE
from tests.federation.conftest import make_hub, stored_counts
from tests.federation.factories import body_of, make_identity, make_snapshot, signed_headers

NOTHING = {"snapshots": 0, "aggregate_cells": 0, "seen_nonces": 0, "node_services": 0}


@pytest.fixture
def bologna(enrolled):
    return enrolled("bologna")


def assert_refused(response, status: int, code: str, words: str, app) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    assert response.json["error"] == code
    assert words in response.json["message"]
    assert stored_counts(app) == NOTHING


def test_a_correct_push_is_stored(bologna, push, hub_app):
    response = push(bologna, make_snapshot("bologna"))
    assert response.status_code == 200
    assert response.json["status"] == "stored"
    assert stored_counts(hub_app)["snapshots"] == 1


def test_an_unsigned_push_is_refused(bologna, client, hub_app):
    response = client.post(
        "/api/v1/snapshots",
        data=body_of(make_snapshot("bologna")),
        headers={"Content-Type": "application/json"},
    )
    assert_refused(response, 401, "unauthenticated", "not signed", hub_app)


def test_a_wrongly_signed_push_is_refused(bologna, push, hub_app):
    body = body_of(make_snapshot("bologna"))
    headers = signed_headers(bologna, body)
    headers[HEADER_SIGNATURE] = signed_headers(bologna, body + b" ")[HEADER_SIGNATURE]
    assert_refused(
        push(bologna, body, headers=headers),
        401,
        "unauthenticated",
        "signature does not match",
        hub_app,
    )


def test_a_push_signed_with_another_nodes_key_is_refused(bologna, enrolled, push, hub_app):
    tallinn = enrolled("tallinn", country="EE")
    impostor = make_identity("bologna")
    impostor.key = tallinn.key  # claims to be Bologna, signs with Tallinn's key
    response = push(impostor, make_snapshot("bologna"))
    assert_refused(response, 401, "unauthenticated", "signature does not match", hub_app)


def test_a_node_cannot_push_another_nodes_snapshot(bologna, enrolled, push, hub_app):
    tallinn = enrolled("tallinn", country="EE")
    response = push(tallinn, make_snapshot("bologna"))  # properly signed by Tallinn
    assert_refused(response, 403, "forbidden", "cannot send a snapshot for node 'bologna'", hub_app)


def test_an_unknown_node_is_refused(push, hub_app):
    stranger = make_identity("atlantis")
    assert_refused(
        push(stranger, make_snapshot("atlantis")),
        403,
        "forbidden",
        "unknown node 'atlantis'",
        hub_app,
    )


def test_a_replayed_request_is_refused_and_changes_nothing(bologna, client, hub_app):
    body = body_of(make_snapshot("bologna"))
    headers = signed_headers(bologna, body)
    assert client.post("/api/v1/snapshots", data=body, headers=headers).status_code == 200
    before = stored_counts(hub_app)
    replay = client.post("/api/v1/snapshots", data=body, headers=headers)
    assert replay.status_code == 401
    assert "nonce has been used" in replay.json["message"]
    assert stored_counts(hub_app) == before


@pytest.mark.parametrize("offset", [-360, 360])
def test_a_timestamp_six_minutes_off_is_refused(bologna, push, hub_app, offset):
    response = push(bologna, make_snapshot("bologna"), timestamp=int(time.time()) + offset)
    assert_refused(response, 401, "unauthenticated", "hub's clock", hub_app)


def test_a_body_over_the_size_limit_is_refused(tmp_path, migrated_hub_db):
    app = make_hub(tmp_path / "small", migrated_hub_db, MAX_BODY_BYTES=2_000)
    from tests.federation.conftest import enroll

    identity = make_identity("bologna")
    enroll(app, identity)
    body = body_of(make_snapshot("bologna"))
    assert len(body) > 2_000
    response = app.test_client().post(
        "/api/v1/snapshots", data=body, headers=signed_headers(identity, body)
    )
    assert_refused(response, 413, "payload_too_large", "2000 bytes", app)


def test_malformed_json_is_refused(bologna, push, hub_app):
    response = push(bologna, b'{"node": "bologna", "cells": [')
    assert_refused(response, 400, "malformed_json", "not valid JSON", hub_app)


def test_a_json_array_is_refused(bologna, push, hub_app):
    assert_refused(push(bologna, b"[1, 2]"), 400, "malformed_json", "JSON object", hub_app)


def test_an_unknown_field_is_refused_naming_it(bologna, push, hub_app):
    data = make_snapshot("bologna").model_dump(mode="json")
    data["operator"] = "Giulia"
    response = push(bologna, body_of(data))
    assert_refused(response, 422, "schema_violation", "operator", hub_app)
    assert response.json["details"][0]["field"] == "operator"


def test_a_negative_count_is_refused_naming_the_field(bologna, push, hub_app):
    data = make_snapshot("bologna").model_dump(mode="json")
    data["cells"][2]["measures"]["events"]["completed"] = -4
    response = push(bologna, body_of(data))
    assert_refused(response, 422, "schema_violation", "cells.2.measures.events.completed", hub_app)


def test_a_free_text_field_is_refused(bologna, push, hub_app):
    data = make_snapshot("bologna").model_dump(mode="json")
    data["cells"][0]["measures"]["comment"] = "the caller, Anna B., lives at Via Roma 3"
    response = push(bologna, body_of(data))
    assert_refused(response, 422, "schema_violation", "comment", hub_app)
    assert "Via Roma" not in response.get_data(as_text=True)  # input is not echoed back


def test_a_snapshot_suppressed_with_a_smaller_k_than_the_federations_is_refused(
    bologna, push, hub_app
):
    response = push(bologna, make_snapshot("bologna", k=5))
    assert_refused(response, 422, "schema_violation", "below the federation's threshold", hub_app)
    assert response.json["details"][0]["field"] == "k"


def test_a_suspended_node_is_refused(bologna, push, hub_app):
    from federation.hub.database import get_db
    from federation.hub.nodes import service as nodes

    with hub_app.app_context(), get_db(hub_app).session() as session:
        nodes.set_active(db_session=session, slug="bologna", active=False)
        session.commit()
    assert_refused(push(bologna, make_snapshot("bologna")), 403, "forbidden", "suspended", hub_app)


def test_unknown_routes_and_methods_answer_json(client):
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"
    assert client.get("/api/v1/snapshots").status_code == 405
