"""Before generation: the common checks of `service_templates.checks`, then the alert settings'."""

from service_templates.checks import Answers, clock

answers = Answers.from_json(r"""{{ cookiecutter | jsonify }}""")
answers.check_common()
# The alert settings: topics, areas, delivery channels, targeting, quiet hours, the cap.
answers.slugs(
    "topics",
    at_least=1,
    noun="a topic",
    example="road-works",
    hint="give at least one topic, e.g. road-works",
)
answers.names("areas", noun="an area", hint="give at least one area (a district name)")
delivery = answers.split("delivery_channels")
if not delivery:
    answers.problem("delivery_channels: alerts need sms, email or app among the channels")
for channel in delivery:
    if channel not in ("sms", "email", "app"):
        answers.problem(f"delivery_channels: alerts go by sms, email or app, not {channel}")
    elif channel not in answers.split("channels"):
        answers.problem(f"delivery_channels: {channel} is not among the channels")
for profile in answers.split("target_profiles"):
    if profile not in ("age_band", "district", "usage"):
        answers.problem(f"target_profiles: age_band, district or usage, not {profile!r}")
quiet = str(answers["quiet_hours"]).strip()
if quiet:
    start, _, end = quiet.partition("-")
    if clock(start) is None or clock(end) is None or start == end:
        answers.problem(f"quiet_hours: HH:MM-HH:MM such as 22:00-07:00, not {quiet!r}")
answers.whole("max_alerts_per_day", 1, 50)
answers.stop_if_wrong()
