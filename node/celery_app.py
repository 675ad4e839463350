"""The node's Celery app: eager and in-process by default, a real broker when BROKER_URL is set.

Run a worker and beat for an instance with::

    CARMEN_NODE_INSTANCE=DIR celery -A node.worker worker --beat
"""

from datetime import timedelta
from typing import Any

from celery import Celery, Task
from flask import Flask, current_app, has_app_context

EXTENSION = "carmen.node.celery"
TASK_MODULES = (
    "node.sync.tasks",
    "node.messaging.tasks",
    "node.consultations.tasks",
    "node.alerts.tasks",
    "node.bookings.tasks",
)


def celery_init_app(app: Flask) -> Celery:
    """Create the app's Celery instance; its tasks run inside this Flask app's context."""

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            if has_app_context():
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config.get("BROKER_URL")
    celery = Celery(
        f"carmen-node-{app.config['TRACKING_PREFIX']}",
        task_cls=FlaskTask,
        include=list(TASK_MODULES),
    )
    celery.conf.update(
        broker_url=broker or "memory://",
        task_always_eager=not broker,
        task_eager_propagates=True,
        task_acks_late=True,  # a task lost with its worker runs again; every task is idempotent
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # Nodes sharing one broker (ASP mode) keep their tasks apart by queue.
        task_default_queue=app.config.get("TASK_QUEUE") or "carmen-node",
        beat_schedule={
            "close-consultations": {  # past their close date (node/consultations/tasks.py)
                "task": "carmen_node.close_consultations",
                "schedule": timedelta(minutes=15),
            },
            "sync-with-hub": {
                "task": "carmen_node.sync",
                "schedule": timedelta(seconds=int(app.config.get("SYNC_INTERVAL_SECONDS", 300))),
            },
            "notify-pending": {  # messages whose queueing was lost (node/messaging/tasks.py)
                "task": "carmen_node.notify_pending",
                "schedule": timedelta(minutes=5),
            },
            "booking-reminders": {  # one reminder per booking (node/bookings/tasks.py)
                "task": "carmen_node.booking_reminders_due",
                "schedule": timedelta(minutes=5),
            },
            "publish-booking-slots": {  # every office's slots up to the horizon
                "task": "carmen_node.publish_booking_slots",
                "schedule": timedelta(hours=6),
            },
            "deliver-due-alerts": {  # alerts held by quiet hours or lost (node/alerts/tasks.py)
                "task": "carmen_node.deliver_due_alerts",
                "schedule": timedelta(minutes=5),
            },
        },
    )
    for module in TASK_MODULES:
        __import__(module)
    app.extensions[EXTENSION] = celery
    return celery


def get_celery(app: Flask | None = None) -> Celery:
    """The Celery app of the given (or current) Flask app, created on first use."""
    app = app or current_app._get_current_object()
    return app.extensions.get(EXTENSION) or celery_init_app(app)
