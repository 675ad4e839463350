"""This service's own checks: the node accepts it, its events speak the common vocabulary, its
rules keep one anonymous participation per citizen, and every language has every text."""


from federation.protocol.vocabulary import CommonEvent
from node.services.service import read_spec
from service_templates.baked import BakedService

SERVICE = BakedService.of(__file__, "consultation")
OPTIONS = {{ cookiecutter.options.split(',') | map('trim') | reject('equalto', '') | list | tojson }}


def test_citizens_choose_among_the_options_while_the_consultation_is_open():
    spec = read_spec(SERVICE.folder / "service.toml")
    choice = next(a for a in spec.attributes if a.code == "choice")
    assert [v.key for v in choice.values] == OPTIONS and choice.required
    consultation = SERVICE.toml("settings.toml")["consultation"]
    assert consultation["options"] == OPTIONS
    assert consultation["opens_on"] < consultation["closes_on"]


def test_one_anonymous_participation_per_verified_citizen():
    settings = SERVICE.toml("settings.toml")
    participation = settings["participation"]
    assert participation["one_per_citizen"] and participation["unlink_after_count"]
    assert participation["verification"] in {"account", "phone", "eid"}
    assert settings["results"]["publish"] == "after-close"


def test_the_node_accepts_the_specification_with_the_answers_given():
    SERVICE.check_specification(read_spec(SERVICE.folder / "service.toml"))


def test_participation_maps_onto_the_common_vocabulary():
    events = SERVICE.check_events(CommonEvent.SUBMITTED)
    assert events["participated"] == CommonEvent.PARTICIPATED.value


def test_every_language_has_every_text():
    messages = SERVICE.check_texts()
    for language in SERVICE.language_list:
        assert list(messages[language]["options"]) == OPTIONS, language
