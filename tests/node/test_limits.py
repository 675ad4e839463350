"""Abuse limits on public intake: after N requests a key gets 429 in its channel's format."""

import json
from email.message import EmailMessage
from email.utils import make_msgid
from xml.etree import ElementTree

import pytest
from flask import Flask

from node.config import NodeSettings
from node.database import get_db
from node.intake import clients, limits
from node.intake.sms import signature
from runtime.settings import SettingsError
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
    app = make_node_app(
        instance,
        RATELIMIT_ENABLED=True,
        RATELIMITS=LIMITS,
        WTF_CSRF_ENABLED=False,
        SMS_AUTH_TOKEN="gateway-token",
        EMAIL_WEBHOOK_TOKEN="mail-token",
    )
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


def _sms(client, sender: str, n: int, body: str = "STATUS BO-7K3M9Q"):
    params = {"MessageSid": f"SM{n:032d}", "From": sender, "To": "+390510000000", "Body": body}
    signed = signature.compute("http://localhost/sms/inbound", params, "gateway-token")
    return client.post("/sms/inbound", data=params, headers={signature.HEADER: signed})


def test_the_sms_webhook_answers_a_third_message_from_one_phone_with_a_polite_twiml_200(app):
    client = app.test_client()
    first = [_sms(client, "+393331234567", n) for n in range(2)]
    assert [r.status_code for r in first] == [200, 200], first[0].data
    written = rows(app)
    refused = _sms(client, "+393331234567", 3)
    # A gateway takes any other status for a failed webhook and sends the message again.
    assert refused.status_code == 200
    root = ElementTree.fromstring(refused.data)
    assert root.tag == "Response" and "try again" in root.findtext("Message")
    assert rows(app) == written
    assert "NOISE" in text(_sms(client, "+393331234567", 4, body="HELP")), "HELP goes through"
    assert "try again" not in text(_sms(client, "+393339999999", 5)), "another phone goes on"


def _mail(sender: str) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "noise@city.example", "Noise"
    mail["Message-ID"] = make_msgid(domain="example.org")
    mail.set_content("Drilling at night in Via Irnerio.")
    return bytes(mail)


def test_the_email_webhook_limits_each_sender_with_a_json_429(app):
    client = app.test_client()
    headers = {"Authorization": "Bearer mail-token", "Content-Type": "message/rfc822"}
    for _ in range(2):
        taken = client.post("/email/inbound", data=_mail("anna@example.org"), headers=headers)
        assert taken.status_code != 429
    refused = client.post("/email/inbound", data=_mail("ANNA@example.org"), headers=headers)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 60  # an hourly window
    assert "e-mail sender" in refused.get_json()["message"]
    other = client.post("/email/inbound", data=_mail("marco@example.org"), headers=headers)
    assert other.status_code != 429


def test_limits_are_off_in_testing_apps_unless_turned_on(instance, tmp_path):
    app = make_node_app(tmp_path / "quiet", WTF_CSRF_ENABLED=False, RATELIMITS=LIMITS)
    client = app.test_client()
    for _ in range(5):
        assert client.post(NOISE, data=VALID).status_code == 302
    get_db(app).engine.dispose()


def test_a_malformed_limit_setting_is_named(instance):
    settings = NodeSettings.load(instance, {"RATELIMITS": {"portal_address": "many per day"}})
    with pytest.raises(RuntimeError, match="portal_address"):
        limits.build_limiter(settings.flask_config())


@pytest.mark.redis
def test_counters_in_redis_are_shared_by_two_apps(tmp_path, redis_url):
    settings = NodeSettings.load(
        tmp_path,
        {"RATELIMIT_ENABLED": True, "RATELIMITS": LIMITS, "RATELIMIT_STORAGE_URL": redis_url},
    ).flask_config()
    first = limits.build_limiter(settings)
    second = limits.build_limiter(settings)
    first.reset()
    first.check("sms_phone", "+393330000001")
    second.check("sms_phone", "+393330000001")
    with pytest.raises(limits.RateLimited):
        first.check("sms_phone", "+393330000001")
    first.reset()


def test_an_address_over_its_limit_leaves_the_app_s_key_to_its_other_users(instance):
    # A city app's key carries every user's requests: one user's burst, refused for its
    # address, must not use up the key for the others.
    app = make_node_app(
        instance,
        RATELIMIT_ENABLED=True,
        RATELIMITS={"open311_address": "2/minute", "open311_client": "4/minute"},
    )
    client = app.test_client()
    key = _api_key(app, "Bologna Segnala")

    def send(address: str) -> int:
        form = OPEN311 | {"api_key": key}
        return client.post("/open311/v2/requests.json", data=form, environ_base=_from(address))

    burst = [send("10.3.0.1") for _ in range(6)]
    assert [r.status_code for r in burst] == [200, 200, 429, 429, 429, 429]
    assert "address" in burst[-1].json[0]["description"]
    others = [send(f"10.3.0.{n}").status_code for n in (2, 3)]
    assert others == [200, 200], "the key had room for two more accepted requests"
    refused = send("10.3.0.4")
    assert refused.status_code == 429 and "api_key" in refused.json[0]["description"]
    get_db(app).engine.dispose()


def _settings(folder, **values) -> dict:
    """A node's settings as its app holds them."""
    return NodeSettings.load(folder, values).flask_config()


def test_without_a_broker_the_counters_stay_in_this_process(tmp_path, caplog):
    assert limits.storage_url(_settings(tmp_path)) == "memory://"
    amqp = _settings(tmp_path, BROKER_URL="amqp://guest@127.0.0.1:5672//")
    with caplog.at_level("WARNING", logger="node.intake.limits"):
        assert limits.storage_url(amqp) == "memory://"
    assert "RATELIMIT_STORAGE_URL" in caplog.text, "a broker that is no Redis is told about"
    redis_broker = _settings(tmp_path, BROKER_URL="redis://r:6379/0")
    assert limits.storage_url(redis_broker) == "redis://r:6379/0"
    socket = _settings(tmp_path, BROKER_URL="redis+socket:///run/redis.sock")
    assert limits.storage_url(socket) == "redis+unix:///run/redis.sock"
    named = redis_broker | {"RATELIMIT_STORAGE_URL": "memory://"}
    assert limits.storage_url(named) == "memory://", "a named storage wins"


@pytest.mark.redis
def test_the_broker_s_redis_holds_the_counters_of_every_worker(tmp_path, redis_url):
    settings = _settings(tmp_path, RATELIMIT_ENABLED=True, RATELIMITS=LIMITS, BROKER_URL=redis_url)
    workers = [limits.build_limiter(settings) for _ in range(3)]  # gunicorn forks one per worker
    workers[0].reset()
    workers[0].check("sms_phone", "+393330000002")
    workers[1].check("sms_phone", "+393330000002")
    with pytest.raises(limits.RateLimited):
        workers[2].check("sms_phone", "+393330000002")
    other_node = limits.build_limiter(settings | {"DATABASE_URL": "sqlite:///tallinn.db"})
    other_node.check("sms_phone", "+393330000002")  # another node on the same Redis counts apart
    workers[0].reset()


def test_when_the_counters_cannot_be_reached_requests_go_on_and_the_log_says_so(tmp_path, caplog):
    down = limits.build_limiter(
        _settings(tmp_path, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URL="redis://127.0.0.1:9/0")
    )
    with caplog.at_level("ERROR", logger="node.intake.limits"):
        for _ in range(10):
            down.check("sms_phone", "+393330000003")
    assert "rate limits not applied" in caplog.text


def _proxied_app(instance, hops):
    return make_node_app(
        instance,
        RATELIMIT_ENABLED=True,
        RATELIMITS={"portal_address": "2/minute"},
        WTF_CSRF_ENABLED=False,
        TRUSTED_PROXY_HOPS=hops,
    )


def test_behind_a_trusted_proxy_each_citizen_is_limited_by_their_own_address(instance):
    app = _proxied_app(instance, 1)
    client = app.test_client()
    proxy = _from("10.9.9.9")

    def send(forwarded: str) -> int:
        headers = {"X-Forwarded-For": forwarded}
        return client.post(NOISE, data=VALID, environ_base=proxy, headers=headers).status_code

    assert [send("203.0.113.7") for _ in range(3)] == [302, 302, 429]
    assert send("198.51.100.20") == 302, "another citizen behind the same proxy goes on"
    # What a client writes to the left of what the proxy appended is not believed.
    assert send("198.51.100.99, 203.0.113.7") == 429
    get_db(app).engine.dispose()


def test_without_a_trusted_proxy_a_forged_forwarded_for_changes_nothing(instance):
    app = _proxied_app(instance, 0)
    client = app.test_client()
    statuses = [
        client.post(
            NOISE,
            data=VALID,
            environ_base=_from("10.9.9.9"),
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        ).status_code
        for n in range(3)
    ]
    assert statuses == [302, 302, 429]
    get_db(app).engine.dispose()


@pytest.mark.parametrize("hops", [-1, "two", True])
def test_a_bad_trusted_proxy_setting_is_named(instance, hops):
    with pytest.raises(SettingsError, match="trusted_proxy_hops"):
        make_node_app(instance, TRUSTED_PROXY_HOPS=hops)
