"""Abuse limits on public intake: after N requests a key gets 429 in its channel's format."""

import json
from xml.etree import ElementTree

import pytest
from flask import Flask

from node.database import get_db
from node.intake import clients, limits
from tests.factories import make_node_app
from tests.node.web import rows, text

NOISE = "/services/noise-report"
VALID = {"description": "Drilling every morning at six", "attr_source": "works"}
OPEN311 = {"service_code": "noise-report", "description": "Bar music", "attribute[source]": "venue"}
LIMITS = {
    "portal_address": "3/minute",
    "open311_client": "3/minute",
    "open311_address": "5/minute",
    "sms_phone": "2/minute",
    "email_sender": "2/hour",
}


@pytest.fixture
def app(instance):
    """A node app with limits on and small enough to reach in a test."""
    app = make_node_app(instance, RATELIMIT_ENABLED=True, RATELIMITS=LIMITS, WTF_CSRF_ENABLED=False)
    yield app
    get_db(app).engine.dispose()


def _api_key(app: Flask, name: str) -> str:
    with get_db(app).session() as session:
        _client, key = clients.create_client(db_session=session, name=name)
        session.commit()
    return key


def _from(address: str) -> dict[str, str]:
    return {"REMOTE_ADDR": address}


def test_the_portal_refuses_a_fourth_request_from_one_address_with_a_page_saying_when(app):
    client = app.test_client()
    for _ in range(3):
        assert client.post(NOISE, data=VALID, environ_base=_from("10.0.0.1")).status_code == 302
    written = rows(app)
    refused = client.post(NOISE, data=VALID, environ_base=_from("10.0.0.1"))
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= 60
    page = text(refused)
    assert "Too many requests" in page and "try again in" in page
    assert rows(app) == written, "a refused request writes nothing"
    other = client.post(NOISE, data=VALID, environ_base=_from("10.0.0.2"))
    assert other.status_code == 302, "another address is not affected"


def test_reading_the_portal_is_never_limited(app):
    client = app.test_client()
    for _ in range(6):
        assert client.get(NOISE, environ_base=_from("10.0.0.1")).status_code == 200


def test_open311_answers_429_in_its_error_format_per_api_key_and_others_go_on(app):
    client = app.test_client()
    first, second = _api_key(app, "Segnala"), _api_key(app, "Other app")
    for n in range(3):
        sent = client.post(
            "/open311/v2/requests.json",
            data=OPEN311 | {"api_key": first},
            environ_base=_from(f"10.1.0.{n}"),
        )
        assert sent.status_code == 200, sent.data
    refused = client.post(
        "/open311/v2/requests.json",
        data=OPEN311 | {"api_key": first},
        environ_base=_from("10.1.1.1"),
    )
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    [error] = json.loads(refused.data)
    assert error["code"] == 429 and "api_key" in error["description"]
    in_xml = client.post(
        "/open311/v2/requests.xml",
        data=OPEN311 | {"api_key": first},
        environ_base=_from("10.1.1.2"),
    )
    assert in_xml.status_code == 429 and in_xml.headers["Retry-After"]
    root = ElementTree.fromstring(in_xml.data)
    assert root.tag == "errors" and root.find("error/code").text == "429"
    other = client.post(
        "/open311/v2/requests.json",
        data=OPEN311 | {"api_key": second},
        environ_base=_from("10.1.2.1"),
    )
    assert other.status_code == 200, "another client key is not affected"


def test_open311_limits_one_address_trying_many_keys(app):
    client = app.test_client()
    statuses = [
        client.post(
            "/open311/v2/requests.json",
            data=OPEN311 | {"api_key": f"guess-{n}"},
            environ_base=_from("10.2.0.1"),
        ).status_code
        for n in range(6)
    ]
    assert statuses == [403] * 5 + [429]


def test_sms_and_email_senders_are_limited_by_phone_and_sender(app):
    with app.test_request_context("/sms/incoming", method="POST"):
        limits.check("sms_phone", "+393331234567")
        limits.check("sms_phone", "+393331234567")
        with pytest.raises(limits.RateLimited) as refused:
            limits.check("sms_phone", "+393331234567")
        limits.check("sms_phone", "+393339999999")  # another phone goes on
        reply = limits.respond(refused.value)
        assert reply.status_code == 429 and int(reply.headers["Retry-After"]) > 0
        message = ElementTree.fromstring(reply.data).find("Message").text
        assert "try again" in message
        limits.check("email_sender", "anna@example.org")
        limits.check("email_sender", "ANNA@example.org ")
        with pytest.raises(limits.RateLimited) as by_mail:
            limits.check("email_sender", "anna@example.org")
        assert by_mail.value.retry_after > 60  # an hourly window
        answer = limits.respond(by_mail.value)
        assert answer.status_code == 429 and "e-mail sender" in answer.get_json()["message"]


def test_limits_are_off_in_testing_apps_unless_turned_on(instance, tmp_path):
    app = make_node_app(tmp_path / "quiet", WTF_CSRF_ENABLED=False, RATELIMITS=LIMITS)
    client = app.test_client()
    for _ in range(5):
        assert client.post(NOISE, data=VALID).status_code == 302
    get_db(app).engine.dispose()


def test_a_malformed_limit_setting_is_named(instance):
    with pytest.raises(RuntimeError, match="portal_address"):
        limits.build_limiter({"RATELIMITS": {"portal_address": "many per day"}})


@pytest.mark.redis
def test_counters_in_redis_are_shared_by_two_apps(tmp_path, redis_url):
    settings = {
        "RATELIMIT_ENABLED": True,
        "RATELIMITS": LIMITS,
        "RATELIMIT_STORAGE_URL": redis_url,
    }
    first = limits.build_limiter(settings)
    second = limits.build_limiter(settings)
    first.reset()
    first.check("sms_phone", "+393330000001")
    second.check("sms_phone", "+393330000001")
    with pytest.raises(limits.RateLimited):
        first.check("sms_phone", "+393330000001")
    first.reset()
