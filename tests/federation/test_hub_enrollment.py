"""Enrollment: a one-time token registers one city's node and its public key."""

import sqlalchemy as sa

from federation.hub.database import get_db, utcnow
from federation.hub.nodes import service as nodes
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
