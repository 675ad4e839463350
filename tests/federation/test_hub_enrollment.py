"""Enrollment: a one-time token registers one city's node and its public key."""

import threading
from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from federation.hub.database import get_db, utcnow
from federation.hub.migrate import upgrade
from federation.hub.nodes import service as nodes
from tests.federation.conftest import make_hub
from tests.federation.factories import make_identity, make_registration


def issue_token(app, city="Bologna", country="IT", ttl_hours=1, slug="bologna", **extra) -> str:
    with app.app_context(), get_db(app).session() as session:
        token, _ = nodes.create_enrollment_token(
            db_session=session,
            city=city,
            country=country,
            slug=slug,
            now=utcnow(),
            ttl_hours=ttl_hours,
            **extra,
        )
        session.commit()
    return token


def post_enroll(client, token, registration):
    return client.post(
        "/api/v1/enroll",
        json={"token": token, "registration": registration.model_dump(mode="json")},
    )


def node_count(app) -> int:
    with get_db(app).engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM nodes")).scalar_one()


def test_a_token_enrolls_the_node_and_answers_its_id_and_k(client, hub_app):
    identity = make_identity("bologna")
    response = post_enroll(client, issue_token(hub_app), make_registration(identity))
    assert response.status_code == 201
    assert response.json["node"] == "bologna"
    assert response.json["k"] == 10
    assert isinstance(response.json["node_id"], int)
    with get_db(hub_app).engine.connect() as conn:
        stored_key = conn.execute(sa.text("SELECT public_key FROM nodes")).scalar_one()
    from federation.protocol.signing import public_key_b64

    assert stored_key == public_key_b64(identity.key)  # the hub keeps only the public key


def test_a_token_works_once(client, hub_app):
    token = issue_token(hub_app)
    assert (
        post_enroll(client, token, make_registration(make_identity("bologna"))).status_code == 201
    )
    again = post_enroll(client, token, make_registration(make_identity("bologna-2", "Bologna")))
    assert again.status_code == 403
    assert "used already" in again.json["message"]
    assert node_count(hub_app) == 1


def test_an_unknown_token_is_refused(client, hub_app):
    response = post_enroll(client, "x" * 32, make_registration(make_identity("bologna")))
    assert response.status_code == 403
    assert response.json["message"] == "unknown enrollment token"
    assert node_count(hub_app) == 0


def test_an_expired_token_is_refused(client, hub_app):
    with hub_app.app_context(), get_db(hub_app).session() as session:
        from datetime import timedelta

        token, _ = nodes.create_enrollment_token(
            db_session=session,
            city="Bologna",
            country="IT",
            slug="bologna",
            now=utcnow() - timedelta(hours=5),
            ttl_hours=1,
        )
        session.commit()
    response = post_enroll(client, token, make_registration(make_identity("bologna")))
    assert response.status_code == 403
    assert "expired" in response.json["message"]


def test_a_token_is_bound_to_its_city(client, hub_app):
    token = issue_token(hub_app, city="Bologna", country="IT")
    response = post_enroll(client, token, make_registration(make_identity("tallinn", country="EE")))
    assert response.status_code == 403
    assert "for Bologna (IT)" in response.json["message"]
    # The refused attempt did not burn the token.
    assert (
        post_enroll(client, token, make_registration(make_identity("bologna"))).status_code == 201
    )


def test_a_taken_node_name_is_a_conflict(client, hub_app):
    post_enroll(client, issue_token(hub_app), make_registration(make_identity("bologna")))
    response = post_enroll(
        client, issue_token(hub_app), make_registration(make_identity("bologna"))
    )
    assert response.status_code == 409
    assert "enrolled already" in response.json["message"]


def test_a_registration_that_breaks_the_schema_names_the_field(client, hub_app):
    registration = make_registration(make_identity("bologna")).model_dump(mode="json")
    registration["context"]["mayor"] = 1.0
    response = client.post(
        "/api/v1/enroll", json={"token": issue_token(hub_app), "registration": registration}
    )
    assert response.status_code == 422
    assert "registration.context" in response.json["message"]
    assert node_count(hub_app) == 0


def test_a_token_is_bound_to_the_node_name_it_was_issued_for(client, hub_app):
    token = issue_token(hub_app, slug="it-bologna")
    other = make_registration(make_identity("it-modena", "Bologna"))
    response = post_enroll(client, token, other)
    assert response.status_code == 403
    assert "for the node 'it-bologna', not 'it-modena'" in response.json["message"]
    assert node_count(hub_app) == 0
    right = post_enroll(client, token, make_registration(make_identity("it-bologna", "Bologna")))
    assert right.status_code == 201


def test_a_token_names_the_node_s_own_default_name_unless_told_another(hub_app):
    with hub_app.app_context(), get_db(hub_app).session() as session:
        _, record = nodes.create_enrollment_token(
            db_session=session, city="Kraków", country="PL", now=utcnow(), ttl_hours=1
        )
    assert record.node_slug == "pl-krakow"  # what `carmen node enroll` calls itself by default


@contextmanager
def served(apps):
    """Each app served on its own loopback port, like separate worker processes."""
    servers = [make_server("127.0.0.1", 0, app, threaded=True) for app in apps]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    try:
        yield [f"http://127.0.0.1:{server.server_port}" for server in servers]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def race_enrollments(urls: list[str], token: str, slugs: list[str]) -> list[int]:
    """Send one enrollment per slug at the same instant, spread over the servers."""
    barrier = threading.Barrier(len(slugs))
    statuses: list[int] = [0] * len(slugs)

    def attempt(index: int) -> None:
        registration = make_registration(make_identity(slugs[index], "Bologna"))
        body = {"token": token, "registration": registration.model_dump(mode="json")}
        with httpx.Client(base_url=urls[index % len(urls)], timeout=60) as http:
            barrier.wait()
            statuses[index] = http.post("/api/v1/enroll", json=body).status_code

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(slugs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def assert_spent_once(apps, statuses: list[int]) -> None:
    assert sorted(statuses) == [201] + [403] * (len(statuses) - 1), statuses
    with get_db(apps[0]).engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM nodes")).scalar_one() == 1
        used = conn.execute(sa.text("SELECT used_at, node_id FROM enrollment_tokens")).one()
    assert used.used_at is not None and used.node_id is not None


def unbound_token(app) -> str:
    """A token as issued before tokens named their node: it binds the city alone."""
    token = issue_token(app)
    with get_db(app).engine.begin() as conn:
        conn.execute(sa.text("UPDATE enrollment_tokens SET node_slug = NULL"))
    return token


def test_a_token_enrolls_one_node_however_many_requests_race_with_it_on_sqlite(
    tmp_path, migrated_hub_db
):
    # Four apps on one database file: four processes, each with its own connections.
    apps = [make_hub(tmp_path / "hub", migrated_hub_db) for _ in range(4)]
    with served(apps) as urls:
        token = unbound_token(apps[0])
        statuses = race_enrollments(urls, token, [f"bologna-{n}" for n in range(16)])
        assert_spent_once(apps, statuses)
        bound = issue_token(apps[0], slug="it-bologna-bis")
        again = race_enrollments(urls, bound, ["it-bologna-bis"] * 16)
    assert sorted(again) == [201] + [403] * 15
    for app in apps:
        get_db(app).engine.dispose()


@pytest.mark.postgres
def test_a_token_enrolls_one_node_however_many_requests_race_with_it_on_postgres(
    tmp_path, migrated_hub_db, postgres_url
):
    upgrade(postgres_url)
    config = {"DATABASE_URL": postgres_url}
    apps = [make_hub(tmp_path / f"hub{n}", migrated_hub_db, **config) for n in range(4)]
    with served(apps) as urls:
        token = unbound_token(apps[0])
        statuses = race_enrollments(urls, token, [f"bologna-{n}" for n in range(16)])
    assert_spent_once(apps, statuses)
    for app in apps:
        get_db(app).engine.dispose()
