"""The checks every template's pre-generation hook makes of the answers, written once.

Cookiecutter runs a template's `hooks/pre_gen_project.py` in a child process of the same Python,
so a hook imports this module and the federation's vocabulary from the installed package. A hook
is pure: it looks only at the answers (the node passes the channels it offers as
`_node_channels`), never at the node, the network or git. It collects every problem, then stops
generation with all of them on stderr, which the tooling shows as the error.
"""

import json
import re
import sys
from typing import Any

from federation.protocol.vocabulary import CITIZEN_CHANNELS

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CHANNELS = tuple(channel.value for channel in CITIZEN_CHANNELS)
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def clock(value: str) -> int | None:
    """Minutes after midnight of an HH:MM time, or None."""
    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", value)
    return int(match[1]) * 60 + int(match[2]) if match else None


class Answers:
    """A template's answers and the problems found in them so far."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.problems: list[str] = []

    @classmethod
    def from_json(cls, text: str) -> "Answers":
        """The answers as the hook's template writes them: `{{ cookiecutter | jsonify }}`."""
        return cls(json.loads(text))

    def __getitem__(self, name: str) -> Any:
        return self.answers[name]

    def problem(self, text: str) -> None:
        """Note one problem; generation stops once every check has run."""
        self.problems.append(text)

    def split(self, name: str) -> list[str]:
        """A comma-separated answer as a list of its non-empty items."""
        return [item.strip() for item in str(self.answers[name]).split(",") if item.strip()]

    def whole(self, name: str, low: int, high: int, unit: str = "") -> int | None:
        """A whole-number answer within bounds, or None with a problem noted."""
        raw = str(self.answers[name]).strip()
        try:
            number = int(raw)
        except ValueError:
            self.problem(f"{name}: must be a whole number, not {raw!r}")
            return None
        if not low <= number <= high:
            self.problem(f"{name}: must be at least {low} and at most {high}{unit}, not {number}")
            return None
        return number

    def slug(self, name: str) -> None:
        """A slug answer: lower-case letters and digits in words joined by single dashes."""
        value = str(self.answers[name])
        if not SLUG.match(value) or len(value) > 64:
            self.problem(
                f"{name}: {value!r} is not a slug (lower-case letters and digits joined by "
                "single dashes, at most 64 characters, e.g. reggio-emilia)"
            )

    def slugs(self, name: str, *, at_least: int, noun: str, example: str, hint: str) -> None:
        """A list of slugs: at least so many, each a slug, none twice."""
        items = self.split(name)
        if len(items) < at_least:
            self.problem(f"{name}: {hint}")
        for item in items:
            if not SLUG.match(item):
                self.problem(f"{name}: {item!r} is not a slug such as {example}")
        if len(set(items)) != len(items):
            self.problem(f"{name}: {noun} is listed twice")

    def names(self, name: str, *, noun: str, hint: str) -> None:
        """A list of names: at least one, none twice whatever its case."""
        items = self.split(name)
        if not items:
            self.problem(f"{name}: {hint}")
        if len({item.lower() for item in items}) != len(items):
            self.problem(f"{name}: {noun} is listed twice")

    def one_of(self, name: str, allowed: tuple[str, ...]) -> None:
        """An answer that must be one of a few words."""
        if self.answers[name] not in allowed:
            words = ", ".join(allowed[:-1]) + f" or {allowed[-1]}"
            self.problem(f"{name}: {words}, not {self.answers[name]!r}")

    def day(self, name: str) -> str | None:
        """A YYYY-MM-DD answer that is a real date, or None with a problem noted."""
        raw = str(self.answers[name]).strip()
        match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", raw)
        if not raw:
            self.problem(f"{name}: give the date as YYYY-MM-DD, e.g. --set {name}=2027-03-01")
            return None
        if (
            not match
            or not 1 <= int(match[2]) <= 12
            or not 1 <= int(match[3]) <= _MONTH_DAYS[int(match[2]) - 1]
        ):
            self.problem(f"{name}: {raw!r} is not a date written YYYY-MM-DD")
            return None
        return raw

    def check_common(self) -> None:
        """What every CARMEN service template checks: city, codes, languages, channels, SLA, SMS."""
        for name, value in self.answers.items():
            if (
                not name.startswith("_")
                and isinstance(value, str)
                and any(c in value for c in "\r\n\t")
            ):
                self.problem(f"{name}: must be one line of text")
        if not str(self.answers["city_name"]).strip():
            self.problem("city_name: must not be empty")
        for name in ("city_slug", "service_code", "department"):
            self.slug(name)
        if not re.fullmatch(r"[A-Z]{2}", str(self.answers["country"])):
            self.problem(f"country: a two-letter code such as IT, not {self.answers['country']!r}")
        languages = self.split("languages")
        if not languages:
            self.problem("languages: give at least one language, e.g. en or it,en")
        for language in languages:
            if not re.fullmatch(r"[a-z]{2}", language):
                self.problem(f"languages: {language!r} is not a two-letter code such as et")
        if len(set(languages)) != len(languages):
            self.problem("languages: a language is listed twice")
        self._check_channels()
        self.whole("sla_hours", 1, 24 * 365, " hours")
        keyword = str(self.answers["sms_keyword"]).strip()
        if keyword and not re.fullmatch(r"[A-Za-z0-9]{2,16}", keyword):
            self.problem(f"sms_keyword: 2 to 16 letters or digits, not {keyword!r}")
        if keyword and "sms" not in self.split("channels"):
            self.problem("sms_keyword: an SMS keyword needs sms among the channels")

    def _check_channels(self) -> None:
        channels = self.split("channels")
        offered = self.split("_node_channels")
        if not channels:
            self.problem(f"channels: choose at least one of {', '.join(offered)}")
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown:
            self.problem(f"channels: unknown {', '.join(unknown)}; known: {', '.join(CHANNELS)}")
        missing = [c for c in channels if c in CHANNELS and c not in offered]
        if missing:
            self.problem(
                f"channels: this node does not offer {', '.join(missing)} "
                f"(it offers {', '.join(offered)})"
            )
        if len(set(channels)) != len(channels):
            self.problem("channels: a channel is listed twice")

    def stop_if_wrong(self) -> None:
        """Print every problem on stderr and stop generation, or let it go on."""
        if self.problems:
            code = self.answers["service_code"]
            print(f"The answers for {code} cannot make a service:", file=sys.stderr)
            for problem in self.problems:
                print(f"  - {problem}", file=sys.stderr)
            sys.exit(1)
