"""The booking rules a service's settings.toml and messages.toml give, read and checked once."""

import tomllib
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from node.errors import NotFound
from node.services.service import service_folder
from node.texts import Texts, read_messages

BEHAVIOUR = "bookings"
# The template's English texts: what a reply falls back on when messages.toml fails it.
ENGLISH = {
    "booked": "Your appointment {reference} is on {date} at {time} at {office}.",
    "moved": "Your appointment {reference} has moved to {date} at {time} at {office}.",
    "cancelled": "Your appointment {reference} is cancelled.",
    "reminder": "Reminder: your appointment {reference} is on {date} at {time} at {office}. "
    "Reply CANCEL if you cannot come.",
}
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
    messages: Texts = field(default_factory=lambda: Texts(english=ENGLISH))

    @property
    def default_language(self) -> str:
        """The language of the service's texts when the reader's is not among them."""
        return self.messages.default_language

    def office(self, key: str) -> Office | None:
        """The office with this key (any case of letters), or None."""
        return next((o for o in self.offices if o.key == key.strip().lower()), None)

    def local(self, moment: datetime) -> datetime:
        """A UTC moment in the service's local time."""
        return moment.astimezone(self.timezone)

    def say(self, name: str, language: str | None, **values: str) -> str:
        """A text of messages.toml in the language, by the node's one fallback rule."""
        return self.messages.say(name, language, **values)


def _clock(value: str) -> time:
    return datetime.strptime(value.strip(), "%H:%M").time()


def read_settings(*, folder: Path, timezone: str) -> BookingSettings:
    """The booking rules of the service generated into this folder."""
    if not (folder / "settings.toml").exists():
        raise NotFound(f"service {folder.name} has no booking settings (settings.toml)")
    with (folder / "settings.toml").open("rb") as handle:
        settings = tomllib.load(handle)
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
        messages=Texts.of(read_messages(folder), english=ENGLISH),
    )


def settings_for(*, services_dir: Path, service_code: str, timezone: str) -> BookingSettings:
    """The booking rules of an installed service, from its folder in the services directory."""
    try:
        folder = service_folder(services_dir=services_dir, code=service_code)
    except NotFound:
        raise NotFound(f"service {service_code} has no booking settings (settings.toml)") from None
    return read_settings(folder=folder, timezone=timezone)
