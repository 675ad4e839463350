"""Check the answers before anything is generated, and stop with a clear message if they are wrong.

The hook is pure: it looks only at the answers (the node passes the channels it offers as
`_node_channels`); it does not touch the node, the network or git.
"""

import json
import re
import sys

ANSWERS = json.loads(r"""{{ cookiecutter | jsonify }}""")
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CHANNELS = ("web", "app", "sms", "email", "phone", "counter")


def split(value: object) -> list[str]:
    """A comma-separated answer as a list of its non-empty items."""
    return [item.strip() for item in str(value).split(",") if item.strip()]


def whole(name: str, low: int, high: int, problems: list[str], unit: str = "") -> int | None:
    """A whole-number answer within bounds, or None with a problem noted."""
    raw = str(ANSWERS[name]).strip()
    try:
        number = int(raw)
    except ValueError:
        problems.append(f"{name}: must be a whole number, not {raw!r}")
        return None
    if not low <= number <= high:
        problems.append(f"{name}: must be at least {low} and at most {high}{unit}, not {number}")
        return None
    return number


def slug(name: str, problems: list[str]) -> None:
    """A slug answer: lower-case letters and digits in words joined by single dashes."""
    value = str(ANSWERS[name])
    if not SLUG.match(value) or len(value) > 64:
        problems.append(
            f"{name}: {value!r} is not a slug (lower-case letters and digits joined by "
            "single dashes, at most 64 characters, e.g. reggio-emilia)"
        )


def common_problems() -> list[str]:
    """What every CARMEN service template checks: city, codes, languages, channels, SLA, SMS."""
    problems: list[str] = []
    for name, value in ANSWERS.items():
        if (
            not name.startswith("_")
            and isinstance(value, str)
            and any(c in value for c in "\r\n\t")
        ):
            problems.append(f"{name}: must be one line of text")
    if not str(ANSWERS["city_name"]).strip():
        problems.append("city_name: must not be empty")
    for name in ("city_slug", "service_code", "department"):
        slug(name, problems)
    if not re.fullmatch(r"[A-Z]{2}", str(ANSWERS["country"])):
        problems.append(f"country: a two-letter code such as IT, not {ANSWERS['country']!r}")
    languages = split(ANSWERS["languages"])
    if not languages:
        problems.append("languages: give at least one language, e.g. en or it,en")
    for language in languages:
        if not re.fullmatch(r"[a-z]{2}", language):
            problems.append(f"languages: {language!r} is not a two-letter code such as et")
    if len(set(languages)) != len(languages):
        problems.append("languages: a language is listed twice")
    channels = split(ANSWERS["channels"])
    offered = split(ANSWERS["_node_channels"])
    if not channels:
        problems.append(f"channels: choose at least one of {', '.join(offered)}")
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        problems.append(f"channels: unknown {', '.join(unknown)}; known: {', '.join(CHANNELS)}")
    missing = [c for c in channels if c in CHANNELS and c not in offered]
    if missing:
        problems.append(
            f"channels: this node does not offer {', '.join(missing)} "
            f"(it offers {', '.join(offered)})"
        )
    if len(set(channels)) != len(channels):
        problems.append("channels: a channel is listed twice")
    whole("sla_hours", 1, 24 * 365, problems, " hours")
    keyword = str(ANSWERS["sms_keyword"]).strip()
    if keyword and not re.fullmatch(r"[A-Za-z0-9]{2,16}", keyword):
        problems.append(f"sms_keyword: 2 to 16 letters or digits, not {keyword!r}")
    if keyword and "sms" not in channels:
        problems.append("sms_keyword: an SMS keyword needs sms among the channels")
    return problems


def stop_if(problems: list[str]) -> None:
    """Print every problem on stderr and stop generation, or let it go on."""
    if problems:
        print(f"The answers for {ANSWERS['service_code']} cannot make a service:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        sys.exit(1)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def clock(value: str) -> int | None:
    """Minutes after midnight of an HH:MM time, or None."""
    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", value)
    return int(match[1]) * 60 + int(match[2]) if match else None


def own_problems() -> list[str]:
    """The booking rules: offices, purposes, weekdays, hours and slots, reminders, horizon."""
    problems: list[str] = []
    offices = split(ANSWERS["offices"])
    if not offices:
        problems.append("offices: give at least one office")
    if len({o.lower() for o in offices}) != len(offices):
        problems.append("offices: an office is listed twice")
    purposes = split(ANSWERS["purposes"])
    if not purposes:
        problems.append("purposes: give at least one purpose, e.g. identity-card")
    for purpose in purposes:
        if not SLUG.match(purpose):
            problems.append(f"purposes: {purpose!r} is not a slug such as identity-card")
    days = split(ANSWERS["weekdays"])
    if not days or any(day not in WEEKDAYS for day in days) or len(set(days)) != len(days):
        problems.append(f"weekdays: some of {', '.join(WEEKDAYS)}, each once, not {days}")
    start, _, end = str(ANSWERS["opening_hours"]).strip().partition("-")
    opens, closes = clock(start), clock(end)
    minutes = whole("slot_minutes", 5, 240, problems)
    if opens is None or closes is None or opens >= closes:
        problems.append(
            f"opening_hours: HH:MM-HH:MM with the start first, e.g. 09:00-13:00, "
            f"not {ANSWERS['opening_hours']!r}"
        )
    elif minutes and (closes - opens) % minutes:
        problems.append(
            f"slot_minutes: {minutes} minutes do not divide the {closes - opens} minutes of "
            f"opening_hours {ANSWERS['opening_hours']}"
        )
    whole("desks", 1, 50, problems)
    reminder = whole("reminder_hours", 1, 168, problems, " hours")
    horizon = whole("booking_horizon_days", 1, 365, problems, " days")
    whole("change_until_hours", 0, 168, problems, " hours")
    if reminder and horizon and reminder >= horizon * 24:
        problems.append("reminder_hours: the reminder must come within the booking horizon")
    return problems


stop_if(common_problems() + own_problems())
