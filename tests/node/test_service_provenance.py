"""The catalogue keeps where each service came from and shows it on the node's API."""

import json
import shutil

from node.services import service as catalogue
from node.services.models import Service
from tests.factories import EXAMPLE_SERVICES

PROVENANCE = {
    "format": 1,
    "template": "issue-report",
    "template_version": "sha256:" + "ab" * 32,
    "service": "noise-report",
    "answers": {"city_name": "Tallinn", "languages": "et"},
    "cloned_from": {"city": "Bologna", "country": "IT", "service": "noise-report"},
}


def install(instance, provenance_text: str | None):
    services = instance / "services"
    shutil.rmtree(services, ignore_errors=True)
    shutil.copytree(EXAMPLE_SERVICES, services)
    if provenance_text is not None:
        (services / "noise-report" / "provenance.json").write_text(provenance_text)
    return services


def test_the_catalogue_keeps_the_provenance_next_to_the_spec(instance, db_session):
    services = install(instance, json.dumps(PROVENANCE))
    report = catalogue.load_catalogue(db_session=db_session, services_dir=services)
    db_session.commit()
    assert report.errors == {} and report.warnings == {}
    stored = db_session.get(Service, "noise-report")
    assert stored.provenance == PROVENANCE


def test_a_hand_written_service_has_no_provenance(instance, db_session):
    catalogue.load_catalogue(db_session=db_session, services_dir=install(instance, None))
    assert db_session.get(Service, "noise-report").provenance is None


def test_an_unreadable_provenance_is_a_warning_and_the_service_is_still_hosted(
    instance, db_session
):
    services = install(instance, "{not json")
    report = catalogue.load_catalogue(db_session=db_session, services_dir=services)
    assert "not valid JSON" in report.warnings["noise-report"]
    stored = catalogue.get(db_session=db_session, code="noise-report")
    assert stored.provenance is None


def test_the_api_lists_services_with_their_provenance(app, instance, db_session):
    catalogue.load_catalogue(
        db_session=db_session, services_dir=install(instance, json.dumps(PROVENANCE))
    )
    db_session.commit()
    client = app.test_client()
    response = client.get("/api/v1/services")
    assert response.status_code == 200 and response.is_json
    (listed,) = response.get_json()["services"]
    assert listed["code"] == "noise-report" and listed["identity"] == "issue-report"
    assert listed["provenance"]["cloned_from"]["city"] == "Bologna"
    assert listed["events"]["resolved"] == "completed"
    one = client.get("/api/v1/services/noise-report").get_json()
    assert one["provenance"] == PROVENANCE
    missing = client.get("/api/v1/services/parking")
    assert missing.status_code == 404 and "parking" in missing.get_json()["message"]


def test_the_back_office_shows_where_each_service_came_from(app, instance, db_session):
    from tests.factories import make_staff
    from tests.node.web import sign_in_staff

    app.config["WTF_CSRF_ENABLED"] = False  # test_web_csrf.py covers the tokens
    catalogue.load_catalogue(
        db_session=db_session, services_dir=install(instance, json.dumps(PROVENANCE))
    )
    user = make_staff(db_session, role="supervisor")
    db_session.commit()
    client = app.test_client()
    assert client.get("/office/services").status_code == 302  # staff only
    assert sign_in_staff(client, user.email).status_code == 302
    page = client.get("/office/services")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Noise report" in text and "issue-report" in text
    assert "noise-report · Bologna (IT)" in text
    assert "abababababab" in text  # the template version, shortened
