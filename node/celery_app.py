"""The node's Celery app: eager and in-process by default, a real broker when BROKER_URL is set.

Run a worker and beat for an instance with::

    CARMEN_NODE_INSTANCE=DIR celery -A node.worker worker --beat
"""

from datetime import timedelta

from celery import Celery
from flask import Flask

from runtime.celery_app import RetryPolicy, celery_init_app, get_celery

__all__ = ["TASK_MODULES", "get_celery", "init_app"]

TASK_MODULES = (
    "node.sync.tasks",
    "node.messaging.tasks",
    "node.consultations.tasks",
    "node.alerts.tasks",
    "node.bookings.tasks",
)


def init_app(app: Flask) -> Celery:
    """Create the app's Celery app; its tasks run inside this Flask app's context."""
    config = app.config
    return celery_init_app(
        app,
        name=f"carmen-node-{config['TRACKING_PREFIX']}",
        broker_url=config["BROKER_URL"],
        queue=config["TASK_QUEUE"],  # nodes sharing one broker (ASP mode) each have their own
        task_modules=TASK_MODULES,
        retry_policy=RetryPolicy(
            max_retries=config["MESSAGING_MAX_RETRIES"],
            backoff=config["MESSAGING_RETRY_BACKOFF"],
            backoff_max=config["MESSAGING_RETRY_BACKOFF_MAX"],
        ),
        beat_schedule={
            "close-consultations": {  # past their close date (node/consultations/tasks.py)
                "task": "carmen_node.close_consultations",
                "schedule": timedelta(minutes=15),
            },
            "sync-with-hub": {
                "task": "carmen_node.sync",
                "schedule": timedelta(seconds=config["SYNC_INTERVAL_SECONDS"]),
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
