"""Before generation: the common checks of `service_templates.checks`, then the consultation's."""

from service_templates.checks import Answers

answers = Answers.from_json(r"""{{ cookiecutter | jsonify }}""")
answers.check_common()
# The consultation: question, options, dates, verification, age and comments.
if not str(answers["question"]).strip():
    answers.problem("question: must not be empty")
answers.slugs(
    "options",
    at_least=2,
    noun="an option",
    example="new-park",
    hint="give at least two options, e.g. yes,no",
)
opens, closes = answers.day("opens_on"), answers.day("closes_on")
if opens and closes and closes <= opens:  # ISO dates sort as text
    answers.problem(f"closes_on: {closes} must be after opens_on {opens}")
answers.one_of("verification", ("account", "phone", "eid"))
answers.whole("minimum_age", 14, 18, " years")
answers.one_of("comments", ("yes", "no"))
answers.stop_if_wrong()
