"""This service's own checks: the node accepts it, its events speak the common vocabulary, its
rules keep one anonymous participation per citizen, and every language has every text."""

import tomllib
from pathlib import Path

from federation.protocol.vocabulary import CommonEvent
from node.services.service import read_spec

FOLDER = Path(__file__).resolve().parents[1]
CODE = {{ cookiecutter.service_code | tojson }}
CHANNELS = {{ cookiecutter.channels.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
LANGUAGES = {{ cookiecutter.languages.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
OPTIONS = {{ cookiecutter.options.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
SLA_HOURS = {{ cookiecutter.sla_hours | int }}
SMS_KEYWORD = {{ cookiecutter.sms_keyword | trim | upper | tojson }} or None


def read_toml(name: str) -> dict:
    with (FOLDER / name).open("rb") as handle:
        return tomllib.load(handle)


def test_the_node_accepts_the_specification_with_the_answers_given():
    spec = read_spec(FOLDER / "service.toml")
    assert spec.code == CODE
    assert spec.template == "consultation"
    assert [c.value for c in spec.channels] == CHANNELS
    assert spec.sla_hours == SLA_HOURS
    assert spec.sms_keyword == SMS_KEYWORD


def test_citizens_choose_among_the_options_while_the_consultation_is_open():
    spec = read_spec(FOLDER / "service.toml")
    choice = next(a for a in spec.attributes if a.code == "choice")
    assert [v.key for v in choice.values] == OPTIONS and choice.required
    consultation = read_toml("settings.toml")["consultation"]
    assert consultation["options"] == OPTIONS
    assert consultation["opens_on"] < consultation["closes_on"]


def test_one_anonymous_participation_per_verified_citizen():
    settings = read_toml("settings.toml")
    participation = settings["participation"]
    assert participation["one_per_citizen"] and participation["unlink_after_count"]
    assert participation["verification"] in {"account", "phone", "eid"}
    assert settings["results"]["publish"] == "after-close"


def test_participation_maps_onto_the_common_vocabulary():
    events = read_toml("service.toml")["events"]
    assert events["participated"] == CommonEvent.PARTICIPATED.value
    assert {CommonEvent(v) for v in events.values()} >= {CommonEvent.SUBMITTED}


def test_every_language_has_every_text():
    messages = read_toml("messages.toml")
    assert messages["default_language"] == LANGUAGES[0]
    reference = messages[LANGUAGES[0]]
    for language in LANGUAGES:
        texts = messages[language]
        assert texts.keys() == reference.keys(), language
        assert list(texts["options"]) == OPTIONS, language
        assert all(str(text).strip() for text in texts["portal"].values())
