"""This service's own checks: the node accepts it, its events speak the common vocabulary, its
alert settings hold together, and every language has every text."""

import re
import tomllib
from pathlib import Path

from federation.protocol.vocabulary import AgeBand, CommonEvent
from node.services.service import read_spec

FOLDER = Path(__file__).resolve().parents[1]
CODE = {{ cookiecutter.service_code | tojson }}
CHANNELS = {{ cookiecutter.channels.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
LANGUAGES = {{ cookiecutter.languages.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
TOPICS = {{ cookiecutter.topics.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
SLA_HOURS = {{ cookiecutter.sla_hours | int }}
SMS_KEYWORD = {{ cookiecutter.sms_keyword | trim | upper | tojson }} or None


def read_toml(name: str) -> dict:
    with (FOLDER / name).open("rb") as handle:
        return tomllib.load(handle)


def test_the_node_accepts_the_specification_with_the_answers_given():
    spec = read_spec(FOLDER / "service.toml")
    assert spec.code == CODE
    assert spec.template == "alert-subscription"
    assert [c.value for c in spec.channels] == CHANNELS
    assert spec.sla_hours == SLA_HOURS
    assert spec.sms_keyword == SMS_KEYWORD


def test_citizens_subscribe_to_the_topics_given_and_get_alerts_on_a_channel_of_the_service():
    spec = read_spec(FOLDER / "service.toml")
    attributes = {a.code: a for a in spec.attributes}
    assert [v.key for v in attributes["topics"].values] == TOPICS
    settings = read_toml("settings.toml")
    delivery = settings["alerts"]["delivery_channels"]
    assert delivery and set(delivery) <= set(CHANNELS) & {"sms", "email", "app"}
    assert [v.key for v in attributes["delivery_channel"].values] == delivery
    assert [t["key"] for t in settings["topics"]] == TOPICS
    area_keys = [v.key for v in attributes["area"].values]
    assert area_keys == ["city", *(a["key"] for a in settings["areas"])]
    assert len(set(area_keys)) == len(area_keys)
    defaults = settings["subscription"]
    assert defaults["default_area"] in area_keys
    assert defaults["default_action"] in [v.key for v in attributes["action"].values]


def test_targeting_uses_the_federations_group_profiles():
    targeting = read_toml("settings.toml")["targeting"]
    assert set(targeting["profiles"]) <= {"age_band", "district", "usage"}
    assert set(targeting["age_bands"]) <= {band.value for band in AgeBand}
    alerts = read_toml("settings.toml")["alerts"]
    assert alerts["max_per_day"] >= 1
    if alerts["quiet_hours"]:
        assert re.fullmatch(r"\d\d:\d\d-\d\d:\d\d", alerts["quiet_hours"])


def test_subscriptions_and_deliveries_map_onto_the_common_vocabulary():
    events = read_toml("service.toml")["events"]
    assert {CommonEvent(v) for v in events.values()} >= {
        CommonEvent.SUBSCRIBED,
        CommonEvent.UNSUBSCRIBED,
        CommonEvent.MESSAGE_DELIVERED,
        CommonEvent.MESSAGE_FAILED,
    }


def test_every_language_has_every_text():
    messages = read_toml("messages.toml")
    assert messages["default_language"] == LANGUAGES[0]
    reference = messages[LANGUAGES[0]]
    for language in LANGUAGES:
        texts = messages[language]
        assert texts.keys() == reference.keys(), language
        assert list(texts["topics"]) == TOPICS, language
        assert all(str(text).strip() for text in texts["portal"].values())
