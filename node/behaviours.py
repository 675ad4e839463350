"""The behaviours this node gives its services: the one place a new behaviour is registered.

A fifth behaviour is a domain folder with its own `behaviour.py` (a `node.plugins.Behaviour`)
and one line in `REGISTERED` below; intake, the app factory and Celery take it from here.
"""

from flask import Flask

from node import celery_app
from node.alerts.behaviour import ALERTS
from node.bookings.behaviour import BOOKINGS
from node.consultations.behaviour import CONSULTATIONS
from node.errors import InvalidInput
from node.plugins import CASES, Behaviour
from node.profiles.service import ERASING
from node.services.schemas import ServiceSpec

REGISTERED: tuple[Behaviour, ...] = (CASES, ALERTS, BOOKINGS, CONSULTATIONS)
BEHAVIOURS: dict[str, Behaviour] = {behaviour.name: behaviour for behaviour in REGISTERED}

for _behaviour in REGISTERED:
    if _behaviour.erase is not None:
        ERASING.connect(_behaviour.erase)


def behaviour_of(spec: ServiceSpec) -> Behaviour:
    """The behaviour a service's spec names; InvalidInput when this node has no such behaviour."""
    try:
        return BEHAVIOURS[spec.behaviour]
    except KeyError:
        raise InvalidInput(
            f"{spec.name} needs the behaviour {spec.behaviour!r}, which this node does not have",
            {"service_code": "unknown behaviour"},
        ) from None


def init_app(app: Flask) -> None:
    """Register every behaviour's pages, and give Celery their task modules and beat entries."""
    for behaviour in REGISTERED:
        for blueprint in behaviour.blueprints:
            app.register_blueprint(blueprint)
    celery_app.add_plugin_tasks(
        app,
        modules=[module for b in REGISTERED for module in b.task_modules],
        beat={name: entry for b in REGISTERED for name, entry in b.beat.items()},
    )
