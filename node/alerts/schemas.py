"""An alert service's own settings and texts, read from its settings.toml and messages.toml."""

import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

SETTINGS_FILE = "settings.toml"
MESSAGES_FILE = "messages.toml"
WHOLE_CITY = "city"
TEMPLATE = "alert-subscription"


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

    def say(self, key: str, language: str | None, **values: Any) -> str:
        """A text of the service in the language, else in its default language."""
        texts = self.texts.get(language or "") or self.texts.get(self.default_language) or {}
        return str(texts.get(key, key)).format(**values)

    def topic_name(self, topic: str, language: str | None) -> str:
        """A topic as citizens read it."""
        texts = self.texts.get(language or "") or self.texts.get(self.default_language) or {}
        return str(texts.get("topics", {}).get(topic, topic.replace("-", " ").capitalize()))

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
        messages = _read(folder / MESSAGES_FILE) if (folder / MESSAGES_FILE).exists() else {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{folder}: the alert settings cannot be read: {exc}") from exc
    alerts = settings.get("alerts", {})
    targeting = settings.get("targeting", {})
    texts = {k: v for k, v in messages.items() if isinstance(v, dict)}
    for table in texts.values():
        table.setdefault("whole_city", "the whole city")
    return AlertSettings(
        delivery_channels=alerts.get("delivery_channels", []),
        quiet_hours=alerts.get("quiet_hours", ""),
        max_per_day=alerts.get("max_per_day", 3),
        default_area=settings.get("subscription", {}).get("default_area", WHOLE_CITY),
        topics=[topic["key"] for topic in settings.get("topics", [])],
        areas=[Area(**area) for area in settings.get("areas", [])],
        profiles=targeting.get("profiles", []),
        age_bands=targeting.get("age_bands", []),
        default_language=messages.get("default_language", "en"),
        texts=texts,
    )
