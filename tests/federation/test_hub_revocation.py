"""Revocation: suspend and resume nodes, revoke API tokens, change passwords, disable accounts,
from the hub's API (admins) and from `carmen hub`."""

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from federation.hub import create_app
from federation.hub.accounts import service as accounts
from federation.hub.accounts.models import Role
from federation.hub.database import get_db, utcnow
from federation.protocol.signing import HEADER_SIGNATURE
from tests.federation.conftest import enroll, stored_counts
from tests.federation.factories import body_of, make_identity, make_snapshot, signed_headers

NOTHING = {"snapshots": 0, "aggregate_cells": 0, "seen_nonces": 0, "node_services": 0}


def make_user(app, username: str, role: Role, password: str = "a-long-password") -> str:
    """A user and an API token of theirs."""
    with app.app_context(), get_db(app).session() as session:
        user, _ = accounts.create_user(
            db_session=session, username=username, role=role, password=password
        )
        token, _ = accounts.create_api_token(
            db_session=session, user=user, name="t", now=utcnow(), ttl_days=1
        )
        session.commit()
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(hub_app) -> str:
    return make_user(hub_app, "ada", Role.ADMIN)


@pytest.fixture
def coordinator(hub_app) -> str:
    return make_user(hub_app, "cora", Role.COORDINATOR)


def suspended_pushes(app, slug: str) -> int:
    with get_db(app).engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT suspended_pushes FROM nodes WHERE slug = :slug"), {"slug": slug}
        ).scalar_one()


def test_a_suspended_node_s_pushes_are_refused_counted_and_accepted_again_once_resumed(
    enrolled, push, client, hub_app, admin, coordinator
):
    bologna = enrolled("bologna")
    answer = client.post("/api/v1/nodes/bologna/suspend", headers=bearer(admin))
    assert answer.status_code == 200 and answer.json["active"] is False
    for revision in (1, 2):
        response = push(bologna, make_snapshot("bologna", revision=revision))
        assert response.status_code == 403 and "suspended" in response.json["message"]
    # Someone else sending in its name without its key moves nothing.
    body = body_of(make_snapshot("bologna"))
    forged = signed_headers(bologna, body)
    forged[HEADER_SIGNATURE] = signed_headers(make_identity("bologna"), body)[HEADER_SIGNATURE]
    assert push(bologna, body, headers=forged).status_code == 401
    assert stored_counts(hub_app) == NOTHING
    assert suspended_pushes(hub_app, "bologna") == 2
    nodes = client.get("/api/v1/nodes", headers=bearer(coordinator)).json["nodes"]
    assert (nodes[0]["active"], nodes[0]["suspended_pushes"]) == (False, 2)
    health = client.get("/api/v1/nodes/bologna/health", headers=bearer(coordinator)).json
    assert health["suspended_pushes"] == 2

    assert client.post("/api/v1/nodes/bologna/resume", headers=bearer(admin)).json["active"]
    assert push(bologna, make_snapshot("bologna", revision=3)).json["status"] == "stored"


def test_only_admins_suspend_nodes(enrolled, client, coordinator):
    enrolled("bologna")
    response = client.post("/api/v1/nodes/bologna/suspend", headers=bearer(coordinator))
    assert response.status_code == 403 and "admin" in response.json["message"]
    assert client.get("/api/v1/nodes/bologna", headers=bearer(coordinator)).json["active"]


def test_a_revoked_token_stops_working_at_once(client, admin, coordinator):
    assert client.get("/api/v1/auth/me", headers=bearer(coordinator)).status_code == 200
    listed = client.get("/api/v1/auth/tokens?username=cora", headers=bearer(admin)).json["tokens"]
    assert [t["username"] for t in listed] == ["cora"] and "token" not in listed[0]
    revoked = client.post(f"/api/v1/auth/tokens/{listed[0]['id']}/revoke", headers=bearer(admin))
    assert revoked.status_code == 200 and revoked.json["revoked_at"] is not None
    response = client.get("/api/v1/auth/me", headers=bearer(coordinator))
    assert response.status_code == 401 and "revoked" in response.json["message"]


def test_a_user_revokes_their_own_token_but_not_another_s(client, hub_app, admin, coordinator):
    other = make_user(hub_app, "otto", Role.COORDINATOR)
    tokens = client.get("/api/v1/auth/tokens", headers=bearer(admin)).json["tokens"]
    ids = {t["username"]: t["id"] for t in tokens}
    refused = client.post(f"/api/v1/auth/tokens/{ids['otto']}/revoke", headers=bearer(coordinator))
    assert refused.status_code == 404  # as if it did not exist
    assert client.get("/api/v1/auth/me", headers=bearer(other)).status_code == 200
    own = client.post(f"/api/v1/auth/tokens/{ids['cora']}/revoke", headers=bearer(coordinator))
    assert own.status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(coordinator)).status_code == 401
    assert client.get("/api/v1/auth/tokens", headers=bearer(other)).status_code == 403


def test_a_disabled_account_s_tokens_stop_working_at_once_and_stay_revoked(
    client, admin, coordinator
):
    response = client.post("/api/v1/users/cora/disable", headers=bearer(admin))
    assert response.status_code == 200 and response.json["active"] is False
    assert client.get("/api/v1/nodes", headers=bearer(coordinator)).status_code == 401
    login = {"username": "cora", "password": "a-long-password"}
    assert client.post("/api/v1/auth/tokens", json=login).status_code == 401
    assert client.post("/api/v1/users/cora/enable", headers=bearer(admin)).json["active"]
    assert client.get("/api/v1/nodes", headers=bearer(coordinator)).status_code == 401
    fresh = client.post("/api/v1/auth/tokens", json=login).json["token"]
    assert client.get("/api/v1/nodes", headers=bearer(fresh)).status_code == 200


def test_a_changed_password_replaces_the_old_one_and_revokes_the_tokens(client, admin, coordinator):
    chosen = client.post(
        "/api/v1/users/cora/password", json={"password": "another-long-one"}, headers=bearer(admin)
    )
    assert chosen.json == {"username": "cora", "password": None, "revoked_tokens": 1}
    assert client.get("/api/v1/auth/me", headers=bearer(coordinator)).status_code == 401
    old = {"username": "cora", "password": "a-long-password"}
    assert client.post("/api/v1/auth/tokens", json=old).status_code == 401
    new = {"username": "cora", "password": "another-long-one"}
    assert client.post("/api/v1/auth/tokens", json=new).status_code == 201
    generated = client.post("/api/v1/users/cora/password", json={}, headers=bearer(admin)).json
    assert len(generated["password"]) >= 12
    login = {"username": "cora", "password": generated["password"]}
    assert client.post("/api/v1/auth/tokens", json=login).status_code == 201
    short = client.post(
        "/api/v1/users/cora/password", json={"password": "short"}, headers=bearer(admin)
    )
    assert short.status_code == 422


def test_the_only_active_admin_cannot_be_disabled(client, admin, coordinator):
    response = client.post("/api/v1/users/ada/disable", headers=bearer(admin))
    assert response.status_code == 409 and "only active admin" in response.json["message"]
    assert client.get("/api/v1/auth/me", headers=bearer(admin)).status_code == 200
    users = client.get("/api/v1/users", headers=bearer(admin)).json["users"]
    assert [(u["username"], u["active"]) for u in users] == [("ada", True), ("cora", True)]
    assert client.get("/api/v1/users", headers=bearer(coordinator)).status_code == 403


# ---------------------------------------------------------------- the same from `carmen hub`


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_an_operator_suspends_and_resumes_a_node_and_revokes_access(tmp_path):
    instance = str(tmp_path / "hub")
    run("hub", "init", "--instance", instance)
    app = create_app({"INSTANCE_PATH": instance, "EVALUATE_ON_INGEST": False})
    identity = make_identity("bologna")
    enroll(app, identity)
    client = app.test_client()

    assert "node bologna suspended" in run(
        "hub", "node", "suspend", "bologna", "--instance", instance
    )
    body = body_of(make_snapshot("bologna"))
    response = client.post("/api/v1/snapshots", data=body, headers=signed_headers(identity, body))
    assert response.status_code == 403
    listing = run("hub", "node", "list", "--instance", instance)
    assert "bologna\tBologna (IT)\tsuspended" in listing
    assert "1 pushes refused while suspended" in listing
    resumed = run("hub", "node", "resume", "bologna", "--instance", instance)
    assert "1 pushes were refused meanwhile" in resumed
    body = body_of(make_snapshot("bologna", revision=2))
    response = client.post("/api/v1/snapshots", data=body, headers=signed_headers(identity, body))
    assert response.status_code == 200
    unknown = CliRunner().invoke(
        main, ["hub", "node", "suspend", "atlantis", "--instance", instance]
    )
    assert unknown.exit_code != 0 and "no node 'atlantis'" in unknown.output

    password = run("hub", "user", "create", "--instance", instance, "--username", "cora")
    password = password.strip().splitlines()[-1]
    token = run("hub", "token", "create", "--instance", instance, "--username", "cora")
    token = token.strip().splitlines()[-1]
    me = client.get("/api/v1/auth/me", headers=bearer(token))
    assert me.status_code == 200
    assert "\tcora\tcli\t" in run("hub", "token", "list", "--instance", instance)
    assert "revoked" in run("hub", "token", "revoke", "--instance", instance, "--token", token)
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    listing = run("hub", "token", "list", "--instance", instance, "--username", "cora")
    assert "\trevoked " in listing and "\tlive" not in listing

    second = run("hub", "token", "create", "--instance", instance, "--username", "cora")
    second = second.strip().splitlines()[-1]
    changed = run("hub", "user", "passwd", "--instance", instance, "--username", "cora")
    assert "1 of its tokens revoked" in changed
    new_password = changed.strip().splitlines()[-1]
    assert new_password != password
    assert client.get("/api/v1/auth/me", headers=bearer(second)).status_code == 401
    login = {"username": "cora", "password": new_password}
    third = client.post("/api/v1/auth/tokens", json=login).json["token"]

    run("hub", "user", "disable", "--instance", instance, "--username", "cora")
    assert client.get("/api/v1/auth/me", headers=bearer(third)).status_code == 401
    assert "cora\tcoordinator\tdisabled" in run("hub", "user", "list", "--instance", instance)
    run("hub", "user", "enable", "--instance", instance, "--username", "cora")
    assert client.post("/api/v1/auth/tokens", json=login).status_code == 201

    ambiguous = CliRunner().invoke(main, ["hub", "token", "revoke", "--instance", instance])
    assert ambiguous.exit_code != 0 and "exactly one of" in ambiguous.output
    get_db(app).engine.dispose()
