"""Before generation: the common checks of `service_templates.checks`, then the issue report's."""

from service_templates.checks import Answers

answers = Answers.from_json(r"""{{ cookiecutter | jsonify }}""")
answers.check_common()
# The issue-report settings: problem types, the hazard department and the photo rule.
answers.slugs(
    "problem_types",
    at_least=2,
    noun="a kind",
    example="illegal-dumping",
    hint="give at least two kinds of problem, e.g. noise,other",
)
answers.slug("hazard_department")
answers.one_of("photo", ("optional", "required", "none"))
answers.stop_if_wrong()
