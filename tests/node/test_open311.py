"""The Open311 GeoReport v2 API, served for real on a loopback port, used by the real client."""

import threading
from datetime import datetime, timedelta
from xml.etree import ElementTree

import pytest
import requests
import sqlalchemy as sa
from georeport import GeoReport
from werkzeug.serving import make_server

from node.cases import service as cases
from node.cases.models import Case, Event
from node.cases.schemas import Actor
from node.database import get_db
from node.intake import clients
from node.profiles.models import Citizen
from node.services import service as catalogue
from tests.factories import make_case, make_citizen, make_staff

STREET_SERVICE = """
code = "street-damage"
name = "Street damage"
domain = "mobility"
description = "Potholes, broken paving and damaged signs."
department = "public-works"
channels = ["web", "app", "phone"]
sla_hours = 120

[[attributes]]
code = "kind"
datatype = "singlevaluelist"
description = "What is damaged?"
required = true
order = 1
values = [{ key = "pothole", name = "Pothole" }, { key = "sign", name = "Road sign" }]

[[attributes]]
code = "hazards"
datatype = "multivaluelist"
description = "Which hazards do you see?"
order = 2
values = [{ key = "glass", name = "Broken glass" }, { key = "water", name = "Standing water" }]

[[attributes]]
code = "depth_cm"
datatype = "number"
description = "How deep is it, in centimetres?"
datatype_description = "A number of centimetres"
order = 3

[[attributes]]
code = "seen_at"
datatype = "datetime"
description = "When did you see it?"
order = 4

[[attributes]]
code = "plate"
datatype = "string"
description = "Number plate of a vehicle involved, if any"
order = 5

[[attributes]]
code = "details"
datatype = "text"
description = "Anything else the crew should know"
order = 6
"""

COUNTER_ONLY_SERVICE = """
code = "parking-permit"
name = "Parking permit"
domain = "personal"
department = "mobility"
channels = ["counter", "phone"]
sla_hours = 240
"""


@pytest.fixture
def server(app, db_session, instance):
    """The node served on a loopback port with two more services; yields the API's root URL."""
    for code, spec in (("street-damage", STREET_SERVICE), ("parking-permit", COUNTER_ONLY_SERVICE)):
        folder = instance / "services" / code
        folder.mkdir(parents=True)
        (folder / "service.toml").write_text(spec, encoding="utf-8")
    report = catalogue.load_catalogue(db_session=db_session, services_dir=instance / "services")
    assert not report.errors, report.errors
    db_session.commit()
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.port}/open311/v2"
    http.shutdown()
    thread.join()


def register(db_session, kind: str = "app", scope: str = "public") -> str:
    _, key = clients.create_client(
        db_session=db_session, name=f"{kind} {scope} client", kind=kind, scope=scope
    )
    db_session.commit()
    return key


@pytest.fixture
def api_key(db_session) -> str:
    """The key of a registered mobile app."""
    return register(db_session)


def post(server: str, fmt: str, fields: list[tuple[str, str]]) -> requests.Response:
    return requests.post(f"{server}/requests.{fmt}", data=fields, timeout=10)


def read(response: requests.Response, fmt: str) -> list[dict]:
    """A list document (requests, errors) as a list of dicts of text, whatever the format."""
    if fmt == "json":
        return response.json()
    root = ElementTree.fromstring(response.content)
    return [{child.tag: child.text for child in item} for item in root]


def counts(app) -> tuple[int, int, int]:
    """How many cases, events and citizen profiles the node holds."""
    with get_db(app).session() as session:
        return tuple(
            session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Case, Event, Citizen)
        )


def street_report(api_key: str, **extra: str) -> list[tuple[str, str]]:
    fields = [
        ("api_key", api_key),
        ("service_code", "street-damage"),
        ("description", "A deep pothole in the cycle lane"),
        ("lat", "44.4949"),
        ("long", "11.3426"),
        ("address_string", "Via dell'Indipendenza 10"),
        ("media_url", "https://photos.example.org/pothole.jpg"),
        ("attribute[kind]", "pothole"),
        ("attribute[hazards][]", "glass"),
        ("attribute[hazards][]", "water"),
        ("attribute[depth_cm]", "12.5"),
        ("attribute[seen_at]", "2026-11-29T18:30:00+01:00"),
        ("attribute[plate]", "AB123CD"),
        ("attribute[details]", "Cyclists swerve into traffic to avoid it."),
    ]
    return fields + list(extra.items())


def the_case(db_session, code: str) -> Case:
    db_session.rollback()  # a fresh snapshot: the server committed in another connection
    return cases.get_by_code(db_session=db_session, code=code)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_lists_only_services_apps_may_use(server, fmt):
    client = GeoReport(server, output_format=fmt)
    listed = client.get_service_list()
    by_code = {s["service_code"]: s for s in listed}
    assert set(by_code) == {"noise-report", "street-damage"}
    street = by_code["street-damage"]
    assert street["service_name"] == "Street damage"
    assert street["group"] == "mobility"
    assert str(street["metadata"]).lower() == "true"
    assert street["type"] == "realtime"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_service_definition_carries_attributes_of_every_datatype(server, fmt):
    definition = GeoReport(server, output_format=fmt).get_service_definition("street-damage")
    assert definition["service_code"] == "street-damage"
    attributes = definition["attributes"]
    if fmt == "xml":
        attributes = attributes["attribute"]
    by_code = {a["code"]: a for a in attributes}
    assert [a["code"] for a in attributes] == [
        "kind",
        "hazards",
        "depth_cm",
        "seen_at",
        "plate",
        "details",
    ]
    assert {a["datatype"] for a in attributes} == {
        "singlevaluelist",
        "multivaluelist",
        "number",
        "datetime",
        "string",
        "text",
    }
    assert str(by_code["kind"]["required"]).lower() == "true"
    assert str(by_code["plate"]["required"]).lower() == "false"
    assert by_code["depth_cm"]["datatype_description"] == "A number of centimetres"
    if fmt == "json":
        assert by_code["hazards"]["values"] == [
            {"key": "glass", "name": "Broken glass"},
            {"key": "water", "name": "Standing water"},
        ]
        assert by_code["plate"]["values"] == []  # lists are arrays even when empty
    else:
        keys = [v["key"] for v in by_code["hazards"]["values"]["value"]]
        assert keys == ["glass", "water"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_service_closed_to_apps_has_no_definition(server, fmt):
    response = requests.get(f"{server}/services/parking-permit.{fmt}", timeout=10)
    assert response.status_code == 404
    [error] = read(response, fmt)
    assert str(error["code"]) == "404"
    assert "does not take requests through this API" in error["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_request_posted_by_an_app_is_a_case_the_client_can_follow(
    server, api_key, db_session, fmt
):
    response = post(server, fmt, street_report(api_key))
    assert response.status_code == 200, response.text
    [answer] = read(response, fmt)
    code = answer["service_request_id"]
    assert answer["account_id"] in (None, "null")
    assert "Public Works" in answer["service_notice"]

    case = the_case(db_session, code)
    assert case.channel == "app"
    assert case.service_code == "street-damage"
    assert case.attributes == {
        "kind": "pothole",
        "hazards": ["glass", "water"],
        "depth_cm": 12.5,
        "seen_at": "2026-11-29T18:30:00+01:00",
        "plate": "AB123CD",
        "details": "Cyclists swerve into traffic to avoid it.",
    }
    assert (case.lat, case.long) == (44.4949, 11.3426)
    assert case.media_url == "https://photos.example.org/pothole.jpg"

    client = GeoReport(server, output_format=fmt)
    shown = client.get_service_request(code)
    assert shown["service_request_id"] == code
    assert shown["status"] == "open"
    assert shown["agency_responsible"] == "Public Works"
    assert shown["service_name"] == "Street damage"
    # Anyone reads the street and a point of its 200 m cell: no house, no text, no photo.
    assert shown["address"] == "Via dell'Indipendenza"
    assert 0 < abs(float(shown["lat"]) - 44.4949) < 0.002
    assert 0 < abs(float(shown["long"]) - 11.3426) < 0.003
    assert not shown["description"] and not shown["media_url"]
    # The city's own app reads the request as it was sent.
    full = register(db_session, scope="full")
    as_sent = read(
        requests.get(f"{server}/requests/{code}.{fmt}", params={"api_key": full}, timeout=10),
        fmt,
    )[0]
    assert as_sent["address"] == "Via dell'Indipendenza 10"
    assert float(as_sent["lat"]) == 44.4949
    assert as_sent["description"] == "A deep pothole in the cycle lane"
    assert as_sent["media_url"] == "https://photos.example.org/pothole.jpg"
    requested = datetime.fromisoformat(shown["requested_datetime"])
    expected = datetime.fromisoformat(shown["expected_datetime"])
    assert requested.utcoffset() is not None
    assert expected - requested == timedelta(hours=120)

    token = requests.get(f"{server}/tokens/{code}.{fmt}", timeout=10)
    assert read(token, fmt)[0]["service_request_id"] == code


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_client_sees_the_case_closed_with_the_citys_latest_public_reply(
    server, api_key, db_session, fmt
):
    code = read(post(server, fmt, street_report(api_key)), fmt)[0]["service_request_id"]
    case = the_case(db_session, code)
    worker = make_staff(db_session, department="public-works")
    actor = Actor.of_staff(worker)
    cases.move(db_session=db_session, case=case, action="acknowledge", actor=actor)
    cases.reply(db_session=db_session, case=case, text="A crew is on its way.", actor=actor)
    cases.add_note(db_session=db_session, case=case, text="Internal: call Mario", actor=actor)
    db_session.commit()
    client = GeoReport(server, output_format=fmt)
    working = client.get_service_request(code)
    assert (working["status"], working["status_notes"]) == ("open", "A crew is on its way.")

    cases.move(
        db_session=db_session,
        case=case,
        action="resolve",
        actor=actor,
        reply="Filled and resurfaced.",
    )
    db_session.commit()
    closed = client.get_service_request(code)
    assert (closed["status"], closed["status_notes"]) == ("closed", "Filled and resurfaced.")
    assert datetime.fromisoformat(closed["updated_datetime"]) >= datetime.fromisoformat(
        closed["requested_datetime"]
    )


def test_a_web_client_s_requests_are_recorded_under_the_web_channel(server, db_session):
    key = register(db_session, kind="web")
    response = post(server, "json", street_report(key))
    assert response.status_code == 200, response.text
    assert the_case(db_session, response.json()[0]["service_request_id"]).channel == "web"


def test_contact_fields_attach_the_request_to_the_citizen_s_profile(server, api_key, db_session):
    known = make_citizen(db_session, email="lucia@example.org")
    db_session.commit()
    first = post(server, "json", street_report(api_key, email="Lucia@Example.org"))
    assert the_case(db_session, first.json()[0]["service_request_id"]).citizen_id == known.id

    second = post(
        server,
        "json",
        street_report(
            api_key,
            first_name="Marco",
            last_name="Bianchi",
            phone="333 123 4567",
            device_id="device-1",
            account_id="acc-9",
        ),
    )
    assert second.status_code == 200, second.text
    citizen = the_case(db_session, second.json()[0]["service_request_id"]).citizen
    assert (citizen.name, citizen.phone) == ("Marco Bianchi", "+393331234567")
    again = post(server, "json", street_report(api_key, phone="+39 333 1234567"))
    assert the_case(db_session, again.json()[0]["service_request_id"]).citizen_id == citizen.id


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_client_filters_requests_by_id_service_status_and_dates(
    server, api_key, db_session, fmt
):
    street = [
        read(post(server, "json", street_report(api_key)), "json")[0]["service_request_id"]
        for _ in range(3)
    ]
    noise = read(
        post(
            server,
            "json",
            [
                ("api_key", api_key),
                ("service_code", "noise-report"),
                ("attribute[source]", "venue"),
            ],
        ),
        "json",
    )[0]["service_request_id"]
    closed = the_case(db_session, street[0])
    actor = Actor.of_staff(make_staff(db_session, department="public-works"))
    cases.move(db_session=db_session, case=closed, action="reject", actor=actor, reason="Private")
    db_session.commit()

    client = GeoReport(server, output_format=fmt)

    def ids(**filters) -> set[str]:
        found = client.get_service_requests(**filters) if fmt == "json" else _xml_list(filters)
        return {r["service_request_id"] for r in found}

    def _xml_list(filters):
        response = requests.get(f"{server}/requests.xml", params=filters, timeout=10)
        return read(response, "xml")

    assert ids() == {*street, noise}
    assert ids(service_request_id=f"{street[1]},{noise}") == {street[1], noise}
    assert ids(service_code="noise-report") == {noise}
    assert ids(status="closed") == {street[0]}
    assert ids(status="open", service_code="street-damage") == {street[1], street[2]}
    assert ids(start_date="2000-01-01T00:00:00Z", end_date="2000-02-01T00:00:00Z") == set()
    assert ids(start_date="2000-01-01T00:00:00Z") == {*street, noise}


def test_requests_come_a_page_at_a_time_newest_first(server, api_key):
    made = [
        post(server, "json", street_report(api_key)).json()[0]["service_request_id"]
        for _ in range(5)
    ]
    pages = [
        requests.get(
            f"{server}/requests.json", params={"page": page, "page_size": 2}, timeout=10
        ).json()
        for page in (1, 2, 3, 4)
    ]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert [r["service_request_id"] for p in pages for r in p] == made[::-1]


BAD_REQUESTS = [
    ({"service_code": None}, 400, "service_code"),
    ({"api_key": "not-a-key"}, 403, "api_key"),
    ({"api_key": None}, 403, "api_key"),
    ({"service_code": "no-such-service"}, 404, "no-such-service"),
    ({"service_code": "parking-permit"}, 404, "parking-permit"),
    ({"description": "x" * 4001}, 400, "4000"),
    ({"attribute[kind]": None}, 400, "attribute[kind]"),
    ({"attribute[kind]": "meteor"}, 400, "attribute[kind]"),
    ({"attribute[depth_cm]": "deep"}, 400, "attribute[depth_cm]"),
    ({"attribute[colour]": "red"}, 400, "attribute[colour]"),
    ({"lat": "north"}, 400, "lat"),
    ({"long": None}, 400, "latitude and longitude"),
    ({"media_url": "file:///etc/passwd"}, 400, "media_url"),
    ({"phone": "12"}, 400, "phone"),
    ({"email": "not an address"}, 400, "email"),
    ({"jurisdiction_id": "paris"}, 404, "jurisdiction"),
]
# The ones the brief names's clients meet most go in both formats; the rest alternate.
BOTH_FORMATS = 6


@pytest.mark.parametrize(
    ("fmt", "change", "status", "says"),
    [("json", *case) for case in BAD_REQUESTS[:BOTH_FORMATS]]
    + [("xml", *case) for case in BAD_REQUESTS[:BOTH_FORMATS]]
    + [("json" if i % 2 else "xml", *case) for i, case in enumerate(BAD_REQUESTS[BOTH_FORMATS:])],
)
def test_bad_requests_get_the_spec_s_error_and_store_nothing(
    server, api_key, app, fmt, change, status, says
):
    fields = dict(street_report(api_key, email="new.person@example.org", first_name="Ada"))
    fields.pop("attribute[hazards][]")
    for name, value in change.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    before = counts(app)
    response = post(server, fmt, list(fields.items()))
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(
        "application/json" if fmt == "json" else "text/xml"
    )
    errors = read(response, fmt)
    assert errors and all(str(e["code"]) == str(status) for e in errors)
    assert any(says in e["description"] for e in errors), errors
    assert counts(app) == before


def test_a_revoked_key_is_refused(server, db_session):
    client, key = clients.create_client(db_session=db_session, name="Old app")
    clients.deactivate(db_session=db_session, client_id=client.id)
    db_session.commit()
    response = post(server, "json", street_report(key))
    assert response.status_code == 403
    assert response.json()[0]["code"] == 403


def test_an_empty_jurisdiction_is_absent_and_the_node_s_own_is_accepted(server):
    assert requests.get(f"{server}/services.json?jurisdiction_id=", timeout=10).status_code == 200
    listed = GeoReport(server, jurisdiction="bologna").get_service_list()
    assert {s["service_code"] for s in listed} == {"noise-report", "street-damage"}
    other = requests.get(f"{server}/services.xml", params={"jurisdiction_id": "paris"}, timeout=10)
    assert other.status_code == 404
    assert "serves 'bologna'" in read(other, "xml")[0]["description"]


@pytest.mark.parametrize(
    ("fmt", "path", "status"),
    [
        ("json", "requests/BO-ZZZZZZ", 404),
        ("xml", "requests/BO-ZZZZZZ", 404),
        ("xml", "tokens/BO-ZZZZZZ", 404),
        ("json", "services/nothing-here", 404),
        ("xml", "no-such-endpoint", 404),
        ("json", "requests", 400),
        ("xml", "requests", 400),
    ],
)
def test_unknown_things_and_bad_queries_are_answered_in_the_spec_s_format(
    server, fmt, path, status
):
    params = {"status": "pending"} if path == "requests" else {}
    response = requests.get(f"{server}/{path}.{fmt}", params=params, timeout=10)
    assert response.status_code == status
    [error] = read(response, fmt)
    assert str(error["code"]) == str(status)
    assert error["description"]


def test_an_unknown_format_is_refused_in_json(server):
    response = requests.get(f"{server}/services.csv", timeout=10)
    assert response.status_code == 400
    assert "use .json or .xml" in response.json()[0]["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_tells_where_the_api_is_and_what_it_speaks(server, fmt):
    response = requests.get(f"{server}/discovery.{fmt}", timeout=10)
    assert response.status_code == 200
    if fmt == "json":
        [endpoint] = response.json()["endpoints"]
        assert endpoint["url"] == server
        assert endpoint["formats"] == ["application/json", "text/xml"]
    else:
        root = ElementTree.fromstring(response.content)
        assert root.findtext("endpoints/endpoint/url") == server
        formats = [f.text for f in root.findall("endpoints/endpoint/formats/format")]
        assert formats == ["application/json", "text/xml"]


def test_no_requests_is_an_empty_list(server):
    response = requests.get(f"{server}/requests.json", timeout=10)
    assert response.json() == []


def test_an_app_request_round_trips_on_postgresql(postgres_url, tmp_path):
    from node.app import create_app
    from node.migrate import upgrade
    from tests.factories import load_services

    app = create_app(
        {
            "INSTANCE_PATH": tmp_path,
            "SECRET_KEY": "test",
            "CITY": "Bologna",
            "DATABASE_URL": postgres_url,
            "TIMEZONE": "Europe/Rome",
        }
    )
    upgrade(postgres_url)
    with get_db(app).session() as session:
        load_services(session, tmp_path)
        install(session, tmp_path, "id-card", BOOKING_SERVICE)
        key = register(session)
        full = register(session, scope="full")
    client = app.test_client()
    posted = client.post(
        "/open311/v2/requests.xml",
        data={"api_key": key, "service_code": "noise-report", "attribute[source]": "venue"},
    )
    assert posted.status_code == 200, posted.text
    code = ElementTree.fromstring(posted.data).findtext("request/service_request_id")
    shown = client.get(f"/open311/v2/requests/{code}.json").json[0]
    assert (shown["status"], shown["agency_responsible"]) == ("open", "Environment")
    assert shown["requested_datetime"].endswith(("+01:00", "+02:00"))

    with get_db(app).session() as session:
        case = cases.get_by_code(db_session=session, code=code)
        cases.move(
            db_session=session, case=case, action="reject", actor=Actor.system(), reason="Private"
        )
        session.commit()
    assert client.get(f"/open311/v2/requests/{code}.json").json[0]["status_notes"] == "Private"
    booked = client.post(
        "/open311/v2/requests.json",
        data={"api_key": key, "service_code": "id-card", "address_string": "Via Irnerio 12"},
    ).json[0]["service_request_id"]
    listed = {r["service_request_id"] for r in client.get("/open311/v2/requests.json").json}
    assert listed == {code}
    everything = client.get("/open311/v2/requests.json", query_string={"api_key": full}).json
    assert {r["service_request_id"] for r in everything} == {code, booked}
    get_db(app).engine.dispose()


def install(db_session, instance, code: str, spec: str) -> None:
    """One more service in the instance's folder, loaded into the catalogue."""
    folder = instance / "services" / code
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.toml").write_text(spec, encoding="utf-8")
    report = catalogue.load_catalogue(db_session=db_session, services_dir=instance / "services")
    assert not report.errors, report.errors
    db_session.commit()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_every_wrong_field_is_named_in_one_error_response(server, api_key, app, fmt):
    fields = dict(street_report(api_key))
    fields.pop("attribute[hazards][]")
    fields |= {
        "lat": "north",
        "media_url": "ftp://photos.example.org/x.jpg",
        "email": "not an address",
        "attribute[kind]": "meteor",
        "attribute[depth_cm]": "deep",
        "description": "x" * 4001,
    }
    before = counts(app)
    response = post(server, fmt, list(fields.items()))
    assert response.status_code == 400, response.text
    named = {e["description"].split(":", 1)[0] for e in read(response, fmt)}
    assert {
        "lat",
        "media_url",
        "email",
        "attribute[kind]",
        "attribute[depth_cm]",
        "description",
    } <= named
    assert all(str(e["code"]) == "400" for e in read(response, fmt))
    assert counts(app) == before


def test_without_a_page_size_a_client_gets_the_spec_s_first_thousand(server, db_session):
    made = [make_case(db_session) for _ in range(60)]
    db_session.commit()
    listed = requests.get(f"{server}/requests.json", timeout=30).json()
    assert len(listed) == len(made) == 60  # 50 was the old default page
    too_big = requests.get(f"{server}/requests.json", params={"page_size": 1001}, timeout=10)
    assert too_big.status_code == 400
    assert too_big.json()[0]["description"] == "page_size: at most 1000"
    at_most = requests.get(f"{server}/requests.json", params={"page_size": 1000}, timeout=30)
    assert at_most.status_code == 200


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_rejected_request_gives_its_reason_in_status_notes(server, api_key, db_session, fmt):
    code = read(post(server, fmt, street_report(api_key)), fmt)[0]["service_request_id"]
    case = the_case(db_session, code)
    actor = Actor.of_staff(make_staff(db_session, department="public-works"))
    cases.move(
        db_session=db_session,
        case=case,
        action="reject",
        actor=actor,
        reason="The pavement belongs to the railway; we told them.",
    )
    db_session.commit()
    client = GeoReport(server, output_format=fmt)
    rejected = client.get_service_request(code)
    assert rejected["status"] == "closed"
    assert rejected["status_notes"] == "The pavement belongs to the railway; we told them."

    cases.move(db_session=db_session, case=case, action="reopen", actor=actor)
    db_session.commit()
    assert not client.get_service_request(code)["status_notes"], "the reason no longer holds"

    other = read(post(server, fmt, street_report(api_key)), fmt)[0]["service_request_id"]
    cases.move(
        db_session=db_session,
        case=the_case(db_session, other),
        action="mark_duplicate",
        actor=actor,
        duplicate_of_code=code,
    )
    db_session.commit()
    assert client.get_service_request(other)["status_notes"] == f"Duplicate of {code}."


def test_public_reads_carry_cors_headers_and_a_preflight_is_answered(server, api_key):
    origin = {"Origin": "https://map.example.org"}
    for path in ("services.json", "requests.xml", "discovery.json", "requests/BO-ZZZZZZ.json"):
        response = requests.get(f"{server}/{path}", headers=origin, timeout=10)
        assert response.headers["Access-Control-Allow-Origin"] == "*", path
    preflight = requests.options(
        f"{server}/requests.json",
        headers=origin
        | {
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "accept",
        },
        timeout=10,
    )
    assert preflight.status_code < 300
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert preflight.headers["Access-Control-Allow-Headers"] == "accept"
    # A POST carries the app's key: no other site's page may read its answer.
    posted = requests.post(f"{server}/requests.json", data=street_report(api_key), headers=origin)
    assert posted.status_code == 200 and "Access-Control-Allow-Origin" not in posted.headers
    post_preflight = requests.options(
        f"{server}/requests.json",
        headers=origin | {"Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert "Access-Control-Allow-Origin" not in post_preflight.headers


def test_cors_can_be_limited_to_the_city_s_own_sites(server, app):
    app.config["OPEN311_CORS_ORIGINS"] = ["https://map.comune.bologna.it/"]
    allowed = requests.get(
        f"{server}/services.json", headers={"Origin": "https://map.comune.bologna.it"}
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://map.comune.bologna.it"
    assert "Origin" in allowed.headers["Vary"]
    other = requests.get(f"{server}/services.json", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]
    app.config["OPEN311_CORS_ORIGINS"] = []
    none = requests.get(
        f"{server}/services.json", headers={"Origin": "https://map.comune.bologna.it"}
    )
    assert "Access-Control-Allow-Origin" not in none.headers


LITTER_SERVICE = """
code = "litter"
name = "Litter"
domain = "environment"
department = "environment"
channels = ["app", "web"]
sla_hours = 48
"""


def test_a_service_without_attributes_takes_a_request_with_any_attribute(
    server, api_key, db_session, instance
):
    install(db_session, instance, "litter", LITTER_SERVICE)
    metadata = {s["service_code"]: s["metadata"] for s in GeoReport(server).get_service_list()}
    assert metadata["litter"] is False
    response = post(
        server,
        "json",
        [
            ("api_key", api_key),
            ("service_code", "litter"),
            ("attribute[WHISPAWN]", "123456"),
            ("attribute[colour][]", "red"),
        ],
    )
    assert response.status_code == 200, response.text
    case = the_case(db_session, response.json()[0]["service_request_id"])
    assert case.attributes == {}, "answers to no question are not kept"


def test_attributes_are_read_as_the_service_definition_says(server, api_key, db_session, instance):
    install(
        db_session,
        instance,
        "street-damage",
        STREET_SERVICE
        + """
[[attributes]]
code = "notice"
datatype = "string"
variable = false
description = "Crews repair potholes within five working days."
""",
    )
    response = post(
        server,
        "json",
        [
            ("api_key", api_key),
            ("service_code", "street-damage"),
            ("attribute[kind]", "Pothole"),  # the key, in another case
            ("attribute[hazards]", "glass,water"),  # a multivaluelist, comma-separated
            ("attribute[plate]", "AB 123\nCD"),  # a string: one line
            ("attribute[notice]", "ignored"),  # informs only: nothing to answer
        ],
    )
    assert response.status_code == 200, response.text
    case = the_case(db_session, response.json()[0]["service_request_id"])
    assert case.attributes == {
        "kind": "pothole",
        "hazards": ["glass", "water"],
        "plate": "AB 123 CD",
    }
    refused = post(
        server,
        "json",
        [("api_key", api_key), ("service_code", "street-damage"), ("attribute[hazards][]", "fire")],
    )
    named = {e["description"].split(":", 1)[0] for e in refused.json()}
    assert named == {"attribute[kind]", "attribute[hazards]"}  # required; not among the values


PUBLISHED_NOISE = """
code = "bin-full"
name = "Full bin"
domain = "environment"
department = "environment"
channels = ["app", "web"]
sla_hours = 48

[publish]
location = "area"
description = true
media = true
"""

SILENT_SERVICE = """
code = "graffiti"
name = "Graffiti"
domain = "environment"
department = "environment"
channels = ["app", "web"]
sla_hours = 48

[publish]
location = "none"
"""

BOOKING_SERVICE = """
code = "id-card"
name = "Identity card appointment"
domain = "personal"
department = "registry"
channels = ["app", "web"]
sla_hours = 48
behaviour = "bookings"
"""


def _post_with_details(server, key, code):
    fields = [
        ("api_key", key),
        ("service_code", code),
        ("description", "Overflowing since Monday. Call me on 333 765 4321, Lucia Neri"),
        ("address_string", "Via Irnerio 12, 40126 Bologna"),
        ("lat", "44.49781"),
        ("long", "11.35163"),
        ("media_url", "https://photos.example.org/bin.jpg"),
        ("first_name", "Lucia"),
        ("last_name", "Neri"),
        ("email", "lucia.neri@example.org"),
    ]
    response = post(server, "json", fields)
    assert response.status_code == 200, response.text
    return response.json()[0]["service_request_id"]


def test_each_service_publishes_what_its_service_toml_allows(server, api_key, db_session, instance):
    for code, spec in (("bin-full", PUBLISHED_NOISE), ("graffiti", SILENT_SERVICE)):
        install(db_session, instance, code, spec)
    published = _post_with_details(server, api_key, "bin-full")
    silent = _post_with_details(server, api_key, "graffiti")
    [bin_full] = requests.get(f"{server}/requests/{published}.json", timeout=10).json()
    assert bin_full["description"] == "Overflowing since Monday. Call me on [phone], [name] [name]"
    assert bin_full["address"] is None, "an area shows no street"
    assert 0 < abs(bin_full["lat"] - 44.49781) < 0.01 and bin_full["lat"] != 44.49781
    assert bin_full["media_url"] == "https://photos.example.org/bin.jpg"
    [graffiti] = requests.get(f"{server}/requests/{silent}.json", timeout=10).json()
    assert graffiti["status"] == "open" and graffiti["service_code"] == "graffiti"
    assert (graffiti["address"], graffiti["lat"], graffiti["long"]) == (None, None, None)
    assert graffiti["description"] is None and graffiti["media_url"] is None


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_appointment_is_published_to_nobody_but_the_city_s_own_app(
    server, api_key, db_session, instance, fmt
):
    install(db_session, instance, "id-card", BOOKING_SERVICE)
    booked = _post_with_details(server, api_key, "id-card")
    listed = read(requests.get(f"{server}/requests.{fmt}", timeout=10), fmt)
    assert booked not in {r["service_request_id"] for r in listed}
    for path in (f"requests/{booked}", f"tokens/{booked}"):
        hidden = requests.get(f"{server}/{path}.{fmt}", timeout=10)
        assert hidden.status_code == 404
        assert read(hidden, fmt)[0]["description"] == f"no request has the tracking code {booked!r}"
    by_id = requests.get(f"{server}/requests.{fmt}", params={"service_request_id": booked})
    assert read(by_id, fmt) == []
    public_key = requests.get(
        f"{server}/requests/{booked}.{fmt}", params={"api_key": api_key}, timeout=10
    )
    assert public_key.status_code == 404, "a public key reads what anyone reads"
    full = register(db_session, scope="full")
    city_app = requests.get(
        f"{server}/requests/{booked}.{fmt}", params={"api_key": full}, timeout=10
    )
    [shown] = read(city_app, fmt)
    assert shown["address"] == "Via Irnerio 12, 40126 Bologna"


def test_a_read_with_a_key_that_is_not_valid_is_refused(server):
    response = requests.get(f"{server}/requests.json", params={"api_key": "guess"}, timeout=10)
    assert response.status_code == 403
    assert response.json()[0]["description"] == "the api_key is not valid for this node"
