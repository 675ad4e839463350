"""This service's own checks: the node accepts it, its events speak the common vocabulary, its
alert settings hold together, and every language has every text."""

import re

from federation.protocol.vocabulary import AgeBand, CommonEvent
from node.services.service import read_spec
from service_templates.baked import BakedService

SERVICE = BakedService.of(__file__, "alert-subscription")
TOPICS = {{ cookiecutter.topics.split(',') | map('trim') | reject('equalto', '') | list | tojson }}


def test_citizens_subscribe_to_the_topics_given_and_get_alerts_on_a_channel_of_the_service():
    spec = read_spec(SERVICE.folder / "service.toml")
    attributes = {a.code: a for a in spec.attributes}
    assert [v.key for v in attributes["topics"].values] == TOPICS
    settings = SERVICE.toml("settings.toml")
    delivery = settings["alerts"]["delivery_channels"]
    assert delivery and set(delivery) <= set(SERVICE.channel_list) & {"sms", "email", "app"}
    assert [v.key for v in attributes["delivery_channel"].values] == delivery
    assert [t["key"] for t in settings["topics"]] == TOPICS
    area_keys = [v.key for v in attributes["area"].values]
    assert area_keys == ["city", *(a["key"] for a in settings["areas"])]
    assert len(set(area_keys)) == len(area_keys)
    defaults = settings["subscription"]
    assert defaults["default_area"] in area_keys
    assert defaults["default_action"] in [v.key for v in attributes["action"].values]


def test_targeting_uses_the_federations_group_profiles():
    targeting = SERVICE.toml("settings.toml")["targeting"]
    assert set(targeting["profiles"]) <= {"age_band", "district", "usage"}
    assert set(targeting["age_bands"]) <= {band.value for band in AgeBand}
    alerts = SERVICE.toml("settings.toml")["alerts"]
    assert alerts["max_per_day"] >= 1
    if alerts["quiet_hours"]:
        assert re.fullmatch(r"\d\d:\d\d-\d\d:\d\d", alerts["quiet_hours"])


def test_the_node_accepts_the_specification_with_the_answers_given():
    SERVICE.check_specification(read_spec(SERVICE.folder / "service.toml"))


def test_subscriptions_and_deliveries_map_onto_the_common_vocabulary():
    SERVICE.check_events(
        CommonEvent.SUBSCRIBED,
        CommonEvent.UNSUBSCRIBED,
        CommonEvent.MESSAGE_DELIVERED,
        CommonEvent.MESSAGE_FAILED,
    )


def test_every_language_has_every_text():
    messages = SERVICE.check_texts()
    for language in SERVICE.language_list:
        assert list(messages[language]["topics"]) == TOPICS, language
