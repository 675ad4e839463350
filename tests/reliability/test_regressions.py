"""Crashes the fuzzers found, each pinned by the request that caused it."""

import pytest
import sqlalchemy as sa

from federation.hub.database import get_db as hub_db
from node.cases.models import Case
from node.database import get_db as node_db
from node.intake.open311 import service as open311
from node.intake.sms import signature
from reliability.apps import hub_app, node_app
from reliability.fuzz import STREET_DAMAGE

REQUESTS = "/open311/v2/requests.json"


@pytest.fixture
def node(tmp_path):
    app, key = node_app(tmp_path / "node")
    yield app, key
    node_db(app).engine.dispose()


@pytest.fixture
def hub(tmp_path):
    hub = hub_app(tmp_path / "hub")
    yield hub
    hub_db(hub.app).engine.dispose()


def descriptions(response) -> list[str]:
    return [error["description"] for error in response.json]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"page": "²"}, "page"),  # str.isdigit() says yes, int() says no
        ({"page_size": "³"}, "page_size"),
        ({"page": "99999999999999999999"}, "page"),  # an offset no database integer holds
        ({"start_date": "9999-12-31T23:59:59-12:00"}, "start_date"),  # no UTC equivalent
        ({"end_date": "0001-01-01T00:00:00+14:00"}, "end_date"),
    ],
)
def test_open311_search_refuses_out_of_range_query_values_naming_the_field(node, params, named):
    app, _ = node
    response = app.test_client().get(REQUESTS, query_string=params)
    assert response.status_code == 400
    assert any(d.startswith(f"{named}:") for d in descriptions(response)), response.json


def test_an_open311_crash_is_a_500_in_the_spec_format_not_a_client_error(node, monkeypatch):
    app, _ = node

    def crash(**_kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(open311, "search_requests", crash)
    client = app.test_client()
    as_json = client.get("/open311/v2/requests.json")
    assert as_json.status_code == 500 and as_json.json[0]["code"] == 500
    as_xml = client.get("/open311/v2/requests.xml")
    assert as_xml.status_code == 500
    assert b"<errors><error><code>500</code>" in as_xml.data


@pytest.mark.parametrize(
    "fields",
    [
        {"description": "Loud music\x00"},
        {"address_string": "Via Zamboni\x00 33"},
        {"first_name": "Giu\x00lia", "email": "giulia@example.org"},
    ],
)
def test_open311_refuses_a_nul_character_which_postgresql_cannot_store(node, fields):
    app, key = node
    form = {"api_key": key, "service_code": "noise-report", "attribute[source]": "traffic"}
    response = app.test_client().post(REQUESTS, data=form | fields)
    assert response.status_code == 400
    assert "NUL character" in descriptions(response)[0]


def test_open311_lookups_refuse_a_nul_character(node):
    app, _ = node
    response = app.test_client().get("/open311/v2/requests/BO-%00.xml")
    assert response.status_code == 400
    assert b"<errors><error><code>400</code>" in response.data


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/api/v1/aggregates?node=%00", None),
        ("GET", "/api/v1/nodes/it-%00bologna", None),
        ("POST", "/api/v1/auth/tokens", {"username": "cora\x00", "password": "x"}),
        ("POST", "/api/v1/enroll", {"token": "t\x00" * 10, "registration": {}}),
    ],
)
def test_hub_refuses_a_nul_character_with_a_json_error(hub, method, url, body):
    response = hub.app.test_client().open(
        url, method=method, json=body, headers={"Authorization": f"Bearer {hub.token}"}
    )
    assert response.status_code == 400
    assert "NUL character" in response.json["message"]
    assert response.json["error"] in ("bad_request", "malformed_json")


@pytest.mark.parametrize("depth", ["nan", "inf", "-Infinity", "1e400"])
def test_open311_refuses_a_number_attribute_that_is_not_finite(tmp_path, depth):
    # PostgreSQL's json type cannot store NaN or Infinity: the insert failed with a 500.
    app, key = node_app(tmp_path / "node", extra_services={"street-damage": STREET_DAMAGE})
    form = {
        "api_key": key,
        "service_code": "street-damage",
        "attribute[kind]": "pothole",
        "attribute[depth_cm]": depth,
    }
    response = app.test_client().post(REQUESTS, data=form)
    node_db(app).engine.dispose()
    assert response.status_code == 400
    assert descriptions(response) == [f"attribute[depth_cm]: {depth!r} is not a finite number"]


def _channel_node(tmp_path, database_url=None):
    app, _ = node_app(tmp_path / "node", database_url)
    app.config.update(SMS_AUTH_TOKEN="sms-token", EMAIL_WEBHOOK_TOKEN="mail-token")
    return app


def _send_sms(app, body: str):
    params = {"MessageSid": "SM" + "7" * 32, "From": "+393331234567", "Body": body}
    sign = signature.compute("http://localhost/sms/inbound", params, "sms-token")
    return app.test_client().post("/sms/inbound", data=params, headers={signature.HEADER: sign})


def _send_mail(app, text: str):
    raw = (
        "From: Giulia <giulia@example.org>\r\nTo: noise@bologna.example\r\n"
        f"Subject: Noise\x00 report\r\nMessage-ID: <m1@example.org>\r\n\r\n{text}\r\n"
    ).encode()
    return app.test_client().post(
        "/email/inbound", data=raw, headers={"Authorization": "Bearer mail-token"}
    )


def _descriptions(app) -> list[str]:
    with node_db(app).session() as session:
        return list(session.scalars(sa.select(Case.description)))


def test_an_sms_holding_a_nul_character_opens_its_case_without_it(tmp_path):
    app = _channel_node(tmp_path)
    response = _send_sms(app, "NOISE loud\x00 music at night")
    assert response.status_code == 200
    assert _descriptions(app) == ["loud music at night"]
    node_db(app).engine.dispose()


def test_an_email_holding_a_nul_character_opens_its_case_without_it(tmp_path):
    app = _channel_node(tmp_path)
    response = _send_mail(app, "Loud music\x00 every night")
    assert response.status_code == 201, response.json
    [description] = _descriptions(app)
    assert "\x00" not in description and "Loud music every night" in description
    node_db(app).engine.dispose()


@pytest.mark.postgres
def test_sms_and_email_with_a_nul_character_are_taken_on_postgresql(tmp_path, postgres_url):
    app = _channel_node(tmp_path, postgres_url)
    assert _send_sms(app, "NOISE loud\x00 music").status_code == 200
    assert _send_mail(app, "Loud music\x00 every night").status_code == 201
    assert len(_descriptions(app)) == 2
    node_db(app).engine.dispose()
