"""This service's own checks: the node accepts it, its events speak the common vocabulary, its
slot rules make a timetable, and every language has every text."""

from datetime import datetime

from federation.protocol.vocabulary import CommonEvent
from node.services.service import read_spec
from service_templates.baked import BakedService

SERVICE = BakedService.of(__file__, "appointment-booking")
PURPOSES = {{ cookiecutter.purposes.split(',') | map('trim') | reject('equalto', '') | list | tojson }}


def test_citizens_choose_an_office_that_publishes_slots_and_a_purpose():
    spec = read_spec(SERVICE.folder / "service.toml")
    attributes = {a.code: a for a in spec.attributes}
    offices = SERVICE.toml("settings.toml")["offices"]
    assert [v.key for v in attributes["office"].values] == [o["key"] for o in offices]
    assert [v.key for v in attributes["purpose"].values] == PURPOSES
    assert {v.key for v in attributes["action"].values} == {"book", "move", "cancel"}
    booking = SERVICE.toml("settings.toml")["booking"]
    assert booking["default_office"] == offices[0]["key"]
    assert booking["default_action"] == "book"


def test_the_slot_rules_make_whole_slots_and_a_reminder_before_each():
    settings = SERVICE.toml("settings.toml")
    slots = settings["slots"]
    opens = datetime.strptime(slots["opens"], "%H:%M")
    closes = datetime.strptime(slots["closes"], "%H:%M")
    window = (closes - opens).total_seconds() / 60
    assert window > 0 and window % slots["minutes"] == 0
    assert slots["desks"] >= 1 and slots["weekdays"]
    assert settings["reminders"]["hours_before"] < settings["booking"]["horizon_days"] * 24


def test_the_node_accepts_the_specification_with_the_answers_given():
    SERVICE.check_specification(read_spec(SERVICE.folder / "service.toml"))


def test_bookings_and_attendance_map_onto_the_common_vocabulary():
    events = SERVICE.check_events(
        CommonEvent.BOOKED, CommonEvent.ATTENDED, CommonEvent.NO_SHOW, CommonEvent.MESSAGE_DELIVERED
    )
    assert set(SERVICE.toml("settings.toml")["attendance"]["outcomes"]) <= set(events)


def test_every_language_has_every_text():
    SERVICE.check_texts()
