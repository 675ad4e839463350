"""Before generation: the common checks of `service_templates.checks`, then the booking rules."""

from service_templates.checks import Answers, clock

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

answers = Answers.from_json(r"""{{ cookiecutter | jsonify }}""")
answers.check_common()
# The booking rules: offices, purposes, weekdays, hours and slots, reminders, horizon.
answers.names("offices", noun="an office", hint="give at least one office")
answers.slugs(
    "purposes",
    at_least=1,
    noun="a purpose",
    example="identity-card",
    hint="give at least one purpose, e.g. identity-card",
)
days = answers.split("weekdays")
if not days or any(day not in WEEKDAYS for day in days) or len(set(days)) != len(days):
    answers.problem(f"weekdays: some of {', '.join(WEEKDAYS)}, each once, not {days}")
start, _, end = str(answers["opening_hours"]).strip().partition("-")
opens, closes = clock(start), clock(end)
minutes = answers.whole("slot_minutes", 5, 240)
if opens is None or closes is None or opens >= closes:
    answers.problem(
        "opening_hours: HH:MM-HH:MM with the start first, e.g. 09:00-13:00, "
        f"not {answers['opening_hours']!r}"
    )
elif minutes and (closes - opens) % minutes:
    answers.problem(
        f"slot_minutes: {minutes} minutes do not divide the {closes - opens} minutes of "
        f"opening_hours {answers['opening_hours']}"
    )
answers.whole("desks", 1, 50)
reminder = answers.whole("reminder_hours", 1, 168, " hours")
horizon = answers.whole("booking_horizon_days", 1, 365, " days")
answers.whole("change_until_hours", 0, 168, " hours")
if reminder and horizon and reminder >= horizon * 24:
    answers.problem("reminder_hours: the reminder must come within the booking horizon")
answers.stop_if_wrong()
