"""What every generated service's own tests check, written once: answers kept, texts complete.

A service's `tests/test_service.py` describes itself with `BakedService.of(__file__, template)`,
which reads the answers the template rendered into `tests/answers.json`, and hands it what the
node read (the caller passes the node's spec, so the tooling does not import the node). A failed
check says what was expected and what the service holds.
"""

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def split(value: str) -> list[str]:
    """A comma-separated answer as a list of its non-empty items."""
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass
class BakedService:
    """A generated service folder and the answers (as given) it was generated with."""

    folder: Path
    template: str
    code: str
    channels: str
    languages: str
    sla_hours: str | int
    sms_keyword: str
    _parsed: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, test_file: str, template: str) -> "BakedService":
        """The service a test file belongs to, with the answers in its tests/answers.json."""
        tests = Path(test_file).resolve().parent
        answers = json.loads((tests / "answers.json").read_text(encoding="utf-8"))
        return cls(folder=tests.parent, template=template, **answers)

    @property
    def channel_list(self) -> list[str]:
        """The channels answered, in order."""
        return split(self.channels)

    @property
    def language_list(self) -> list[str]:
        """The languages answered, the default first."""
        return split(self.languages)

    def toml(self, name: str) -> dict[str, Any]:
        """One of the service's TOML files, parsed."""
        if name not in self._parsed:
            with (self.folder / name).open("rb") as handle:
                self._parsed[name] = tomllib.load(handle)
        return self._parsed[name]

    def check_specification(self, spec: Any) -> None:
        """The node's reading of service.toml keeps the code, template, channels, SLA, keyword."""
        found = {
            "code": spec.code,
            "template": spec.template,
            "channels": [c.value for c in spec.channels],
            "sla_hours": spec.sla_hours,
            "sms_keyword": spec.sms_keyword,
        }
        expected = {
            "code": self.code,
            "template": self.template,
            "channels": self.channel_list,
            "sla_hours": int(self.sla_hours),
            "sms_keyword": self.sms_keyword.strip().upper() or None,
        }
        assert found == expected, f"service.toml holds {found}, the answers were {expected}"

    def check_events(self, *required: Any) -> dict[str, str]:
        """Every event of service.toml maps onto a common event, the required ones among them;
        returns the mapping (the service's event: the common event)."""
        from federation.protocol.vocabulary import CommonEvent

        events = self.toml("service.toml")["events"]
        mapped = {CommonEvent(value) for value in events.values()}
        missing = sorted(str(CommonEvent(event)) for event in required if event not in mapped)
        assert not missing, f"service.toml maps no event onto {missing}: {events}"
        return events

    def check_texts(self) -> dict[str, Any]:
        """Every language has every text and a portal with no empty text; returns messages.toml."""
        messages = self.toml("messages.toml")
        languages = self.language_list
        default = messages["default_language"]
        assert default == languages[0], f"default language {default}, not {languages[0]}"
        reference = messages[languages[0]]
        for language in languages:
            texts = messages[language]
            assert texts.keys() == reference.keys(), f"{language}: {texts.keys()} differ"
            empty = [key for key, text in texts["portal"].items() if not str(text).strip()]
            assert not empty, f"{language}: empty portal texts {empty}"
        return messages
