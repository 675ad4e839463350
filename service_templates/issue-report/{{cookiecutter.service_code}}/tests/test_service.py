"""This service's own checks: the node accepts it, its events speak the common vocabulary, and
every language has every text."""


from federation.protocol.vocabulary import CommonEvent
from node.services.service import read_spec
from service_templates.baked import BakedService

SERVICE = BakedService.of(__file__, "issue-report")
PROBLEM_TYPES = {{ cookiecutter.problem_types.split(',') | map('trim') | reject('equalto', '') | list | tojson }}


def test_citizens_choose_among_the_problem_types_given():
    spec = read_spec(SERVICE.folder / "service.toml")
    problem_type = next(a for a in spec.attributes if a.code == "problem_type")
    assert [v.key for v in problem_type.values] == PROBLEM_TYPES
    assert problem_type.required


def test_the_node_accepts_the_specification_with_the_answers_given():
    SERVICE.check_specification(read_spec(SERVICE.folder / "service.toml"))


def test_case_events_map_onto_the_common_vocabulary():
    events = SERVICE.check_events(
        CommonEvent.SUBMITTED, CommonEvent.COMPLETED, CommonEvent.REJECTED, CommonEvent.FEEDBACK
    )
    assert events["resolved"] == "completed"


def test_every_language_has_every_text():
    messages = SERVICE.check_texts()
    portal = messages[SERVICE.language_list[0]]["portal"]
    for language in SERVICE.language_list:
        assert messages[language]["portal"].keys() == portal.keys(), language
