"""The read API: token-protected JSON of nodes, health, services and aggregates, with OpenAPI."""

import re

import pytest

from tests.federation.factories import make_snapshot


@pytest.fixture
def populated(enrolled, push):
    bologna = enrolled("bologna")
    tallinn = enrolled("tallinn", country="EE")
    push(bologna, make_snapshot("bologna", "2025-03", 1, pending_periods=["2025-04"]))
    push(bologna, make_snapshot("bologna", "2025-04", 2))
    push(
        tallinn,
        make_snapshot(
            "tallinn",
            "2025-03",
            1,
            services=[
                {
                    "code": "noise-ee",
                    "template": "noise_report",
                    "template_version": "1.3.0",
                    "cloned_from": {"node": "bologna", "service": "noise"},
                },
            ],
        ),
    )
    return bologna, tallinn


def get(client, url, token):
    return client.get(url, headers={"Authorization": f"Bearer {token}"})


def test_the_read_api_needs_a_token(client):
    response = client.get("/api/v1/nodes")
    assert response.status_code == 401
    assert "Bearer" in response.json["message"]
    assert get(client, "/api/v1/nodes", "chub_wrong").status_code == 401


def test_a_coordinator_logs_in_with_a_password_and_reads(client, api_token):
    response = client.post(
        "/api/v1/auth/tokens", json={"username": "cora", "password": "coordinator-pass"}
    )
    assert response.status_code == 201
    token = response.json["token"]
    assert get(client, "/api/v1/auth/me", token).json == {"username": "cora", "role": "coordinator"}
    wrong = client.post("/api/v1/auth/tokens", json={"username": "cora", "password": "nope"})
    assert wrong.status_code == 401


def test_nodes_and_their_health(client, api_token, populated):
    nodes = get(client, "/api/v1/nodes", api_token).json["nodes"]
    assert [node["node"] for node in nodes] == ["bologna", "tallinn"]
    assert nodes[0]["context"]["internet_use_pct"] == 83.5
    health = get(client, "/api/v1/nodes/bologna/health", api_token).json
    assert health["last_sync_at"] is not None
    assert health["latest_period"] == "2025-04"
    assert [(p["period"], p["revision"]) for p in health["stored_periods"]] == [
        ("2025-03", 1),
        ("2025-04", 2),
    ]
    assert health["pending_periods"] == []  # the last push said nothing was pending
    assert get(client, "/api/v1/nodes/atlantis/health", api_token).status_code == 404


def test_services_carry_template_and_provenance(client, api_token, populated):
    services = get(client, "/api/v1/nodes/tallinn/services", api_token).json["services"]
    assert services == [
        {
            "node": "tallinn",
            "code": "noise-ee",
            "service": "noise_report",
            "template": "noise_report",
            "template_version": "1.3.0",
            "cloned_from_node": "bologna",
            "cloned_from_service": "noise",
            "first_period": "2025-03",
            "last_period": "2025-03",
        }
    ]
    everywhere = get(client, "/api/v1/services", api_token).json["services"]
    same = {(s["node"], s["code"]) for s in everywhere if s["service"] == "noise_report"}
    assert same == {("bologna", "noise"), ("tallinn", "noise-ee")}  # one service, two cities


def test_aggregates_filter_by_service_node_and_period(client, api_token, populated):
    url = (
        "/api/v1/aggregates?service=noise_report&node=bologna&period=2025-04"
        "&segment=all&channel=all&measure=submitted"
    )
    page = get(client, url, api_token).json
    expected = make_snapshot("bologna", "2025-04", 2).cells[0].measures.events.submitted
    if expected is None:
        assert page["total"] == 0  # suppressed: no row
    else:
        assert page["total"] == 1
        assert page["cells"][0]["value"] == expected
    everything = get(client, "/api/v1/aggregates?limit=5", api_token).json
    assert everything["total"] > 5 and len(everything["cells"]) == 5
    bad = get(client, "/api/v1/aggregates?limit=lots", api_token)
    assert bad.status_code == 400 and "limit" in bad.json["message"]


def test_the_openapi_document_describes_every_route(client, hub_app):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert "MetricsSnapshot" in document["components"]["schemas"]
    routes = {
        re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for rule in hub_app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
    }
    assert routes == set(document["paths"])
