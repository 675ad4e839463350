"""This service's own checks: the node accepts it, its events speak the common vocabulary, and
every language has every text."""

import tomllib
from pathlib import Path

from federation.protocol.vocabulary import CommonEvent
from node.services.service import read_spec

FOLDER = Path(__file__).resolve().parents[1]
CODE = {{ cookiecutter.service_code | tojson }}
CHANNELS = {{ cookiecutter.channels.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
LANGUAGES = {{ cookiecutter.languages.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
PROBLEM_TYPES = {{ cookiecutter.problem_types.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
SLA_HOURS = {{ cookiecutter.sla_hours | int }}
SMS_KEYWORD = {{ cookiecutter.sms_keyword | trim | upper | tojson }} or None


def read_toml(name: str) -> dict:
    with (FOLDER / name).open("rb") as handle:
        return tomllib.load(handle)


def test_the_node_accepts_the_specification_with_the_answers_given():
    spec = read_spec(FOLDER / "service.toml")
    assert spec.code == CODE
    assert spec.template == "issue-report"
    assert [c.value for c in spec.channels] == CHANNELS
    assert spec.sla_hours == SLA_HOURS
    assert spec.sms_keyword == SMS_KEYWORD


def test_citizens_choose_among_the_problem_types_given():
    spec = read_spec(FOLDER / "service.toml")
    problem_type = next(a for a in spec.attributes if a.code == "problem_type")
    assert [v.key for v in problem_type.values] == PROBLEM_TYPES
    assert problem_type.required


def test_case_events_map_onto_the_common_vocabulary():
    events = read_toml("service.toml")["events"]
    assert {CommonEvent(v) for v in events.values()} >= {
        CommonEvent.SUBMITTED,
        CommonEvent.COMPLETED,
        CommonEvent.REJECTED,
        CommonEvent.FEEDBACK,
    }
    assert events["resolved"] == "completed"


def test_every_language_has_every_text():
    messages = read_toml("messages.toml")
    assert messages["default_language"] == LANGUAGES[0]
    reference = messages[LANGUAGES[0]]
    for language in LANGUAGES:
        texts = messages[language]
        assert texts.keys() == reference.keys(), language
        assert texts["portal"].keys() == reference["portal"].keys(), language
        assert all(str(text).strip() for text in texts["portal"].values())
