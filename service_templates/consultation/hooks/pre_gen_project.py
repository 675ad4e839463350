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


def day(name: str, problems: list[str]) -> str | None:
    """A YYYY-MM-DD answer that is a real date, or None with a problem noted."""
    raw = str(ANSWERS[name]).strip()
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", raw)
    month_days = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if not raw:
        problems.append(f"{name}: give the date as YYYY-MM-DD, e.g. --set {name}=2027-03-01")
        return None
    if (
        not match
        or not 1 <= int(match[2]) <= 12
        or not 1 <= int(match[3]) <= month_days[int(match[2]) - 1]
    ):
        problems.append(f"{name}: {raw!r} is not a date written YYYY-MM-DD")
        return None
    return raw


def own_problems() -> list[str]:
    """The consultation: question, options, dates, verification, age and comments."""
    problems: list[str] = []
    if not str(ANSWERS["question"]).strip():
        problems.append("question: must not be empty")
    options = split(ANSWERS["options"])
    if len(options) < 2:
        problems.append("options: give at least two options, e.g. yes,no")
    for option in options:
        if not SLUG.match(option):
            problems.append(f"options: {option!r} is not a slug such as new-park")
    if len(set(options)) != len(options):
        problems.append("options: an option is listed twice")
    opens, closes = day("opens_on", problems), day("closes_on", problems)
    if opens and closes and closes <= opens:  # ISO dates sort as text
        problems.append(f"closes_on: {closes} must be after opens_on {opens}")
    if ANSWERS["verification"] not in ("account", "phone", "eid"):
        problems.append(f"verification: account, phone or eid, not {ANSWERS['verification']!r}")
    whole("minimum_age", 14, 18, problems, " years")
    if ANSWERS["comments"] not in ("yes", "no"):
        problems.append(f"comments: yes or no, not {ANSWERS['comments']!r}")
    return problems


stop_if(common_problems() + own_problems())
