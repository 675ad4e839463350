"""The hub's Celery app: eager and in-process by default, a real broker when BROKER_URL is set.

Run a worker and beat for an instance with::

    CARMEN_HUB_INSTANCE=DIR celery -A federation.hub.worker worker --beat -Q carmen-hub
"""

from datetime import timedelta
from typing import Any

from celery import Celery, Task
from flask import Flask, current_app, has_app_context

EXTENSION = "celery"
TASK_MODULES = ("federation.hub.ingest.tasks", "federation.hub.evaluations.tasks")


def celery_init_app(app: Flask) -> Celery:
    """Create the app's Celery instance; its tasks run inside this Flask app's context."""

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            # Eager tasks run inside the request's app context already; workers need one.
            if has_app_context():
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config["BROKER_URL"]
    celery = Celery(app.name, task_cls=FlaskTask, include=list(TASK_MODULES))
    celery.conf.update(
        broker_url=broker or "memory://",
        result_backend=app.config["RESULT_BACKEND"],
        task_always_eager=not broker,
        task_default_queue=app.config["TASK_QUEUE"],
        task_eager_propagates=True,
        task_acks_late=True,  # a task lost with its worker is delivered again; tasks are idempotent
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        beat_schedule={
            "prune-nonces": {
                "task": "carmen_hub.prune_nonces",
                "schedule": timedelta(hours=1),
            },
        },
    )
    for module in TASK_MODULES:
        __import__(module)
    app.extensions[EXTENSION] = celery
    return celery


def enqueue(task: Task, *args: Any, countdown: float | None = None) -> None:
    """Send a task through the current Flask app's Celery app (call only after commit)."""
    celery: Celery = current_app.extensions[EXTENSION]
    celery.tasks[task.name].apply_async(args=args, countdown=countdown)
