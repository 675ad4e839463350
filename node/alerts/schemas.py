"""An alert service's own settings and texts, read from its settings.toml and messages.toml."""

import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from node.texts import Texts, read_messages

SETTINGS_FILE = "settings.toml"
WHOLE_CITY = "city"
BEHAVIOUR = "alerts"
# The template's English texts: what a reply falls back on when messages.toml fails it.
ENGLISH = {
    "subscribed": "You will get {topics} alerts for {area} by {channel}. "
    "Reply STOP to unsubscribe.",
    "unsubscribed": "You will get no more alerts from {city}.",
    "alert": "{city} alert, {topic}, {area}: {text}",
    "sms_help": "Send {keyword} followed by a topic to subscribe, e.g. {keyword} road-works; "
    "send {keyword} STOP to unsubscribe.",
    "whole_city": "the whole city",
    "unsubscribe": "To stop these alerts, open {link}",
}


class Area(BaseModel):
    """An area citizens can restrict alerts to (a district, usually)."""

    key: str
    name: str


class AlertSettings(BaseModel):
    """What the alert-subscription template lets a city decide, with the texts per language."""

    model_config = ConfigDict(frozen=True)

    delivery_channels: list[str]
    quiet_hours: str = ""
    max_per_day: int = 3
    default_area: str = WHOLE_CITY
    topics: list[str]
    areas: list[Area]
    profiles: list[str] = []
    age_bands: list[str] = []
    default_language: str = "en"
    texts: dict[str, dict[str, Any]] = {}

    @property
    def area_keys(self) -> list[str]:
        """Every area key a subscription or alert may name, the whole city first."""
        return [WHOLE_CITY, *(area.key for area in self.areas)]

    def quiet_window(self) -> tuple[time, time] | None:
        """The quiet hours as (start, end) local times; None when there are none."""
        match = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", self.quiet_hours.strip())
        if match is None:
            return None
        hours = [int(part) for part in match.groups()]
        return time(hours[0], hours[1]), time(hours[2], hours[3])

    @property
    def messages(self) -> Texts:
        """The service's texts, read by the node's one fallback rule."""
        return Texts(tables=self.texts, default_language=self.default_language, english=ENGLISH)

    def say(self, key: str, language: str | None, **values: Any) -> str:
        """A text of the service in the language, by the node's one fallback rule."""
        return self.messages.say(key, language, **values)

    def topic_name(self, topic: str, language: str | None) -> str:
        """A topic as citizens read it."""
        names = self.messages.names("topics", language)
        return str(names.get(topic) or topic.replace("-", " ").capitalize())

    def area_name(self, key: str, language: str | None) -> str:
        """An area as citizens read it; the whole city is the city's name."""
        for area in self.areas:
            if area.key == key:
                return area.name
        return self.say("whole_city", language) if key == WHOLE_CITY else key


def _read(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def read_settings(folder: Path) -> AlertSettings:
    """The settings and texts of a generated alert service's folder; ValueError when unreadable."""
    try:
        settings = _read(folder / SETTINGS_FILE)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{folder}: the alert settings cannot be read: {exc}") from exc
    messages = Texts.of(read_messages(folder), english=ENGLISH)
    alerts = settings.get("alerts", {})
    targeting = settings.get("targeting", {})
    return AlertSettings(
        delivery_channels=alerts.get("delivery_channels", []),
        quiet_hours=alerts.get("quiet_hours", ""),
        max_per_day=alerts.get("max_per_day", 3),
        default_area=settings.get("subscription", {}).get("default_area", WHOLE_CITY),
        topics=[topic["key"] for topic in settings.get("topics", [])],
        areas=[Area(**area) for area in settings.get("areas", [])],
        profiles=targeting.get("profiles", []),
        age_bands=targeting.get("age_bands", []),
        default_language=messages.default_language,
        texts={language: dict(table) for language, table in messages.tables.items()},
    )
