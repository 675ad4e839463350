"""A service's own texts (name, description, questions, choices) in the citizen's language."""

from pathlib import Path

import pytest

from node.database import get_db
from node.instance import load_services
from node.services.schemas import ServiceSpec
from service_templates.engine import PACKAGE_TEMPLATES, city_answers, new_service
from tests.factories import make_node_app
from tests.node.web import text


@pytest.fixture
def bilingual_app(instance: Path):
    """A node whose issue-report service was generated in English and Italian."""
    app = make_node_app(instance)
    new_service(
        root=PACKAGE_TEMPLATES,
        template="issue-report",
        services_dir=instance / "services",
        city=city_answers(city="Bologna", country="IT", languages=["en", "it"]),
        node_channels=["web", "app", "sms", "email", "phone", "counter"],
        assignments={},
    )
    report = load_services(app)
    assert not report.errors, report.errors
    yield app
    get_db(app).engine.dispose()


def test_an_italian_citizen_sees_the_services_name_questions_and_choices_in_italian(
    bilingual_app,
):
    page = text(bilingual_app.test_client().get("/services/issue-report?lang=it"))
    assert "Segnala un problema ambientale" in page
    assert "Di che tipo di problema si tratta?" in page
    assert "Abbandono di rifiuti" in page
    assert "Qualcuno è in pericolo immediato?" in page
    assert "What kind of problem is it?" not in page
    index = text(bilingual_app.test_client().get("/?lang=it"))
    assert "Segnala un problema ambientale" in index


def test_an_english_reader_sees_the_service_as_written(bilingual_app):
    page = text(bilingual_app.test_client().get("/services/issue-report?lang=en"))
    assert "Report an environmental problem" in page
    assert "What kind of problem is it?" in page
    assert "Abbandono di rifiuti" not in page


def test_a_service_without_italian_texts_falls_back_to_english(bilingual_app):
    index = text(bilingual_app.test_client().get("/?lang=it"))
    assert "Come possiamo aiutarti?" in index  # the page itself is Italian
    assert "Noise report" in index  # the example service has no [i18n.it]


def test_open311_gives_the_services_in_the_language_an_app_asks_for(bilingual_app):
    client = bilingual_app.test_client()
    named = {
        s["service_code"]: s["service_name"] for s in client.get("/open311/v2/services.json").json
    }
    assert named["issue-report"] == "Report an environmental problem"
    asked = client.get("/open311/v2/services.json?locale=it_IT").json
    assert {s["service_code"]: s["service_name"] for s in asked}["issue-report"] == (
        "Segnala un problema ambientale"
    )
    by_header = client.get(
        "/open311/v2/services/issue-report.json", headers={"Accept-Language": "it-IT,it;q=0.9"}
    ).json
    questions = {a["code"]: a for a in by_header["attributes"]}
    assert questions["since"]["description"] == "Da quando c'è?"
    assert {v["key"]: v["name"] for v in questions["hazard"]["values"]}["yes"] == "Sì"


def _noise_spec(values: dict[str, str], i18n: dict) -> ServiceSpec:
    """A one-question service whose choices and translations the test names."""
    return ServiceSpec.model_validate(
        {
            "code": "noise",
            "name": "Noise",
            "domain": "environment",
            "department": "environment",
            "channels": ["web"],
            "sla_hours": 24,
            "attributes": [
                {
                    "code": "source",
                    "datatype": "singlevaluelist",
                    "description": "Where from?",
                    "values": [{"key": key, "name": name} for key, name in values.items()],
                }
            ],
            "i18n": i18n,
        }
    )


def test_a_partial_translation_keeps_the_written_text_for_what_it_leaves_out():
    spec = _noise_spec(
        {"traffic": "Traffic", "works": "Works"},
        {"it": {"name": "Rumore", "attributes": {"source": {"values": {"works": "Cantiere"}}}}},
    )
    italian = spec.in_language("it")
    assert italian.name == "Rumore"
    assert italian.attributes[0].description == "Where from?"
    assert [v.name for v in italian.attributes[0].values] == ["Traffic", "Cantiere"]
    assert spec.in_language("de").name == "Noise"


def test_a_translation_of_a_choice_the_service_lacks_is_refused():
    with pytest.raises(ValueError, match="no choice 'wind'"):
        _noise_spec(
            {"traffic": "Traffic"},
            {"it": {"attributes": {"source": {"values": {"wind": "Vento"}}}}},
        )
