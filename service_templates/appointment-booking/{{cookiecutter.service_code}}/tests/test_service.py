"""This service's own checks: the node accepts it, its events speak the common vocabulary, its
slot rules make a timetable, and every language has every text."""

import tomllib
from datetime import datetime
from pathlib import Path

from federation.protocol.vocabulary import CommonEvent
from node.services.service import read_spec

FOLDER = Path(__file__).resolve().parents[1]
CODE = {{ cookiecutter.service_code | tojson }}
CHANNELS = {{ cookiecutter.channels.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
LANGUAGES = {{ cookiecutter.languages.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
PURPOSES = {{ cookiecutter.purposes.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
SLA_HOURS = {{ cookiecutter.sla_hours | int }}
SMS_KEYWORD = {{ cookiecutter.sms_keyword | trim | upper | tojson }} or None


def read_toml(name: str) -> dict:
    with (FOLDER / name).open("rb") as handle:
        return tomllib.load(handle)


def test_the_node_accepts_the_specification_with_the_answers_given():
    spec = read_spec(FOLDER / "service.toml")
    assert spec.code == CODE
    assert spec.template == "appointment-booking"
    assert [c.value for c in spec.channels] == CHANNELS
    assert spec.sla_hours == SLA_HOURS
    assert spec.sms_keyword == SMS_KEYWORD


def test_citizens_choose_an_office_that_publishes_slots_and_a_purpose():
    spec = read_spec(FOLDER / "service.toml")
    attributes = {a.code: a for a in spec.attributes}
    offices = read_toml("settings.toml")["offices"]
    assert [v.key for v in attributes["office"].values] == [o["key"] for o in offices]
    assert [v.key for v in attributes["purpose"].values] == PURPOSES
    assert {v.key for v in attributes["action"].values} == {"book", "move", "cancel"}
    booking = read_toml("settings.toml")["booking"]
    assert booking["default_office"] == offices[0]["key"]
    assert booking["default_action"] == "book"


def test_the_slot_rules_make_whole_slots_and_a_reminder_before_each():
    settings = read_toml("settings.toml")
    slots = settings["slots"]
    opens = datetime.strptime(slots["opens"], "%H:%M")
    closes = datetime.strptime(slots["closes"], "%H:%M")
    window = (closes - opens).total_seconds() / 60
    assert window > 0 and window % slots["minutes"] == 0
    assert slots["desks"] >= 1 and slots["weekdays"]
    assert settings["reminders"]["hours_before"] < settings["booking"]["horizon_days"] * 24


def test_bookings_and_attendance_map_onto_the_common_vocabulary():
    events = read_toml("service.toml")["events"]
    assert {CommonEvent(v) for v in events.values()} >= {
        CommonEvent.BOOKED,
        CommonEvent.ATTENDED,
        CommonEvent.NO_SHOW,
        CommonEvent.MESSAGE_DELIVERED,
    }
    assert set(read_toml("settings.toml")["attendance"]["outcomes"]) <= set(events)


def test_every_language_has_every_text():
    messages = read_toml("messages.toml")
    assert messages["default_language"] == LANGUAGES[0]
    reference = messages[LANGUAGES[0]]
    for language in LANGUAGES:
        texts = messages[language]
        assert texts.keys() == reference.keys(), language
        assert all(str(text).strip() for text in texts["portal"].values())
