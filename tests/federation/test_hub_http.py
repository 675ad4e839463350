"""A real HTTP hop: the hub served on loopback, a node client enrolling and pushing with httpx."""

import socket
import threading

import httpx
import pytest
from werkzeug.serving import make_server

from federation.hub.database import get_db, utcnow
from federation.hub.nodes import service as nodes
from federation.protocol.client import EnrollmentError, PushOutcome, enroll, push_snapshot
from tests.federation.factories import make_identity, make_registration, make_snapshot


@pytest.fixture
def hub_url(hub_app):
    server = make_server("127.0.0.1", 0, hub_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def token_for(app, city: str, country: str, slug: str = "bologna") -> str:
    with app.app_context(), get_db(app).session() as session:
        token, _ = nodes.create_enrollment_token(
            db_session=session, city=city, country=country, slug=slug, now=utcnow(), ttl_hours=1
        )
        session.commit()
    return token


def test_a_node_enrolls_and_pushes_over_http(hub_app, hub_url):
    identity = make_identity("bologna")
    answer = enroll(
        hub_url=hub_url,
        token=token_for(hub_app, "Bologna", "IT"),
        registration=make_registration(identity),
    )
    assert answer.node == "bologna" and answer.k == 10

    with httpx.Client() as http:
        first = push_snapshot(
            hub_url=hub_url,
            snapshot=make_snapshot("bologna", revision=2),
            private_key=identity.key,
            client=http,
        )
        assert first.outcome is PushOutcome.ACKNOWLEDGED and first.acknowledged
        assert first.receipt.status == "stored"
        older = push_snapshot(
            hub_url=hub_url,
            snapshot=make_snapshot("bologna", revision=1),
            private_key=identity.key,
            client=http,
        )
        assert older.outcome is PushOutcome.IGNORED_LOWER_REVISION and older.acknowledged
        other = make_snapshot("bologna", revision=2, services=[{"code": "other"}])
        conflict = push_snapshot(
            hub_url=hub_url, snapshot=other, private_key=identity.key, client=http
        )
        assert conflict.outcome is PushOutcome.CONFLICT and not conflict.acknowledged
        assert "higher revision" in conflict.message


def test_a_push_with_a_wrong_key_is_a_client_error_not_a_retry(hub_app, hub_url):
    identity = make_identity("bologna")
    enroll(
        hub_url=hub_url,
        token=token_for(hub_app, "Bologna", "IT"),
        registration=make_registration(identity),
    )
    stranger = make_identity("bologna")
    result = push_snapshot(
        hub_url=hub_url, snapshot=make_snapshot("bologna"), private_key=stranger.key
    )
    assert result.outcome is PushOutcome.CLIENT_ERROR
    assert result.status_code == 401
    assert "signature does not match" in result.message


def test_a_used_token_raises_the_hubs_message(hub_app, hub_url):
    token = token_for(hub_app, "Bologna", "IT")
    enroll(hub_url=hub_url, token=token, registration=make_registration(make_identity("bologna")))
    with pytest.raises(EnrollmentError, match="used already"):
        enroll(
            hub_url=hub_url,
            token=token,
            registration=make_registration(make_identity("bologna-bis", "Bologna")),
        )


def test_a_hub_that_is_down_means_retry_later():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = push_snapshot(
        hub_url=f"http://127.0.0.1:{port}",
        snapshot=make_snapshot("bologna"),
        private_key=make_identity("bologna").key,
        timeout=2,
    )
    assert result.outcome is PushOutcome.RETRY and result.status_code is None
