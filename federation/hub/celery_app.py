"""The hub's Celery app: eager and in-process by default, a real broker when BROKER_URL is set.

Run a worker and beat for an instance with::

    CARMEN_HUB_INSTANCE=DIR celery -A federation.hub.worker worker --beat -Q carmen-hub
"""

from datetime import timedelta

from celery import Celery
from flask import Flask

from runtime.celery_app import celery_init_app

TASK_MODULES = ("federation.hub.ingest.tasks", "federation.hub.evaluations.tasks")


def init_app(app: Flask) -> Celery:
    """Create the app's Celery app; its tasks run inside this Flask app's context."""
    return celery_init_app(
        app,
        name=app.name,
        broker_url=app.config["BROKER_URL"],
        queue=app.config["TASK_QUEUE"],
        task_modules=TASK_MODULES,
        result_backend=app.config["RESULT_BACKEND"],
        beat_schedule={
            "prune-nonces": {"task": "carmen_hub.prune_nonces", "schedule": timedelta(hours=1)},
        },
    )
