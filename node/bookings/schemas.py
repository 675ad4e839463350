"""The booking rules a service's settings.toml and messages.toml give, read and checked once."""

import tomllib
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from node.errors import NotFound

TEMPLATE = "appointment-booking"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OUTCOMES = ("attended", "no_show")


@dataclass(frozen=True)
class Office:
    """An office that publishes slots."""

    key: str
    name: str


@dataclass(frozen=True)
class BookingSettings:
    """One booking service's slot rules, reminder, cut-off, offices and texts."""

    weekdays: tuple[int, ...]
    opens: time
    closes: time
    minutes: int
    desks: int
    horizon_days: int
    change_until_hours: int
    reminder_hours: int
    offices: tuple[Office, ...]
    default_office: str
    timezone: ZoneInfo
    default_language: str = "en"
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def office(self, key: str) -> Office | None:
        """The office with this key (any case of letters), or None."""
        return next((o for o in self.offices if o.key == key.strip().lower()), None)

    def local(self, moment: datetime) -> datetime:
        """A UTC moment in the service's local time."""
        return moment.astimezone(self.timezone)

    def say(self, name: str, language: str | None, **values: str) -> str:
        """A text of messages.toml in the language, else the default one, filled in."""
        texts = self.messages.get(language or "") or self.messages.get(self.default_language, {})
        return str(texts.get(name, "")).format(**values)


def _clock(value: str) -> time:
    return datetime.strptime(value.strip(), "%H:%M").time()


def read_settings(*, folder: Path, timezone: str) -> BookingSettings:
    """The booking rules of the service generated into this folder."""
    with (folder / "settings.toml").open("rb") as handle:
        settings = tomllib.load(handle)
    messages: dict[str, Any] = {}
    if (folder / "messages.toml").exists():
        with (folder / "messages.toml").open("rb") as handle:
            messages = tomllib.load(handle)
    slots, booking = settings["slots"], settings["booking"]
    offices = tuple(Office(str(o["key"]), str(o["name"])) for o in settings.get("offices", []))
    return BookingSettings(
        weekdays=tuple(WEEKDAYS.index(day) for day in slots["weekdays"]),
        opens=_clock(slots["opens"]),
        closes=_clock(slots["closes"]),
        minutes=int(slots["minutes"]),
        desks=int(slots["desks"]),
        horizon_days=int(booking["horizon_days"]),
        change_until_hours=int(booking.get("change_until_hours", 0)),
        reminder_hours=int(settings.get("reminders", {}).get("hours_before", 24)),
        offices=offices,
        default_office=str(booking.get("default_office") or offices[0].key),
        timezone=ZoneInfo(timezone),
        default_language=str(messages.get("default_language", "en")),
        messages={k: v for k, v in messages.items() if isinstance(v, dict)},
    )


def settings_for(*, services_dir: Path, service_code: str, timezone: str) -> BookingSettings:
    """The booking rules of an installed service, from its folder in the services directory."""
    folder = services_dir / service_code
    if not (folder / "settings.toml").exists():
        for spec_path in sorted(services_dir.glob("*/service.toml")):
            with spec_path.open("rb") as handle:
                if tomllib.load(handle).get("code") == service_code:
                    folder = spec_path.parent
                    break
    if not (folder / "settings.toml").exists():
        raise NotFound(f"service {service_code} has no booking settings (settings.toml)")
    return read_settings(folder=folder, timezone=timezone)
