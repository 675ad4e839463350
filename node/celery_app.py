"""The node's Celery app: eager and in-process by default, a real broker when BROKER_URL is set.

Run a worker and beat for an instance with::

    CARMEN_NODE_INSTANCE=DIR celery -A node.worker worker --beat
"""

from datetime import timedelta
from typing import Any

from celery import Celery
from flask import Flask

from runtime.celery_app import RetryPolicy, celery_init_app, get_celery, send_in_background

__all__ = ["TASK_MODULES", "add_plugin_tasks", "get_celery", "init_app", "serve_in_background"]

PLUGINS = "carmen.node.celery.plugins"
TASK_MODULES = (
    "node.sync.tasks",
    "node.messaging.tasks",
    "node.intake.email.tasks",
    "node.usage.tasks",
)


def add_plugin_tasks(app: Flask, *, modules: list[str], beat: dict[str, dict[str, Any]]) -> None:
    """Run these task modules and beat entries too (the behaviours', from node/behaviours.py)."""
    app.extensions[PLUGINS] = (tuple(modules), dict(beat))


def serve_in_background(app: Flask) -> None:
    """A node about to serve sends on a background thread, unless its settings say no."""
    if app.config["BACKGROUND_SENDING"] is not False:
        send_in_background(app)


def init_app(app: Flask) -> Celery:
    """Create the app's Celery app (after add_plugin_tasks); its tasks run in this app's context."""
    config = app.config
    plugin_modules, plugin_beat = app.extensions.get(PLUGINS, ((), {}))
    return celery_init_app(
        app,
        name=f"carmen-node-{config['TRACKING_PREFIX']}",
        broker_url=config["BROKER_URL"],
        queue=config["TASK_QUEUE"],  # nodes sharing one broker (ASP mode) each have their own
        task_modules=[*TASK_MODULES, *plugin_modules],
        # Without a broker a staff click never waits for a mail server (node/config.py); by
        # default the serving commands turn it on (serve_in_background).
        background=config["BACKGROUND_SENDING"] is True,
        retry_policy=RetryPolicy(
            max_retries=config["MESSAGING_MAX_RETRIES"],
            backoff=config["MESSAGING_RETRY_BACKOFF"],
            backoff_max=config["MESSAGING_RETRY_BACKOFF_MAX"],
        ),
        beat_schedule={
            "sync-with-hub": {
                "task": "carmen_node.sync",
                "schedule": timedelta(seconds=config["SYNC_INTERVAL_SECONDS"]),
            },
            "notify-pending": {  # messages whose queueing was lost (node/messaging/tasks.py)
                "task": "carmen_node.notify_pending",
                "schedule": timedelta(minutes=5),
            },
            "prune-mail": {  # raw e-mail past MAIL_RETENTION_DAYS (node/intake/email/tasks.py)
                "task": "carmen_node.prune_mail",
                "schedule": timedelta(hours=24),
            },
            "fit-usage-segments": {  # the citizens' usage segments (node/usage)
                "task": "carmen_node.fit_usage_segments",
                "schedule": timedelta(days=1),
            },
            **plugin_beat,  # the behaviours' own (node/behaviours.py)
        },
    )
