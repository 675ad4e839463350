"""What a behaviour plugs into the node: a service's `behaviour` in service.toml names one.

A behaviour is what the node does with a service beyond its catalogue entry. Plain services take
cases (`CASES`); alerts, bookings and consultations each describe themselves with one `Behaviour`
in their own `behaviour.py`, and `node/behaviours.py` lists them. Intake, the app factory and
Celery read that list and never name a behaviour themselves.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint
from sqlalchemy.orm import Session

from node.errors import InvalidInput
from node.profiles.models import Citizen
from node.services.models import Service
from node.services.schemas import CASES as CASES_NAME
from node.services.schemas import ServiceSpec
from node.services.service import service_folder


@dataclass(frozen=True)
class SmsRequest:
    """An SMS that starts with a service's keyword: the words after it, and who sent them."""

    db_session: Session
    service: Service
    text: str
    citizen: Citizen | None  # the sender's profile, when the number is known
    citizen_of: Callable[[], Citizen]  # the sender's profile, made on first use
    language: str
    city: str
    now: datetime
    services_dir: Path
    timezone: str
    read_settings: Callable[[Path, str], Any] | None = None

    def settings(self) -> Any:
        """The service's own settings, read from its folder by its behaviour's reader."""
        if self.read_settings is None:
            return None
        folder = service_folder(services_dir=self.services_dir, code=self.service.code)
        return self.read_settings(folder, self.timezone)


@dataclass(frozen=True)
class Behaviour:
    """One behaviour: what intake does with its services, and what it adds to the node."""

    name: str
    # Why intake opens no case for one of its services (None: it takes cases like any other).
    refuse_case: Callable[[Service, ServiceSpec], InvalidInput] | None = None
    # Where the portal's request form of one of its services leads instead (an endpoint that
    # takes the service code).
    portal_endpoint: str | None = None
    # The reply to `<KEYWORD> <text>` and the outcome recorded with the inbound message.
    answer_sms: Callable[[SmsRequest], tuple[str, str]] | None = None
    # The settings of one of its services: (service folder, the node's time zone) -> settings.
    read_settings: Callable[[Path, str], Any] | None = None
    # Pages (portal and back office), Celery task modules and beat entries it adds.
    blueprints: tuple[Blueprint, ...] = ()
    task_modules: tuple[str, ...] = ()
    beat: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Forget what it keeps about a citizen whose profile is erased, in the same transaction.
    erase: Callable[..., None] | None = None  # called with db_session= and citizen_id=
    # Whether public pages and the unkeyed Open311 API may show its requests at all (within
    # what the service's [publish] allows); False where a request is a personal matter.
    publishes_requests: bool = True

    @property
    def takes_cases(self) -> bool:
        """Whether intake opens cases for its services."""
        return self.refuse_case is None


CASES = Behaviour(name=CASES_NAME)
