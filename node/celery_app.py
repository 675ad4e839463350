"""The node's Celery app: eager and in-process by default, a real broker when BROKER_URL is set.

Run a worker and beat for an instance with::

    CARMEN_NODE_INSTANCE=DIR celery -A node.worker worker --beat
"""

from datetime import timedelta
from typing import Any

from celery import Celery, Task
from flask import Flask, current_app, has_app_context

EXTENSION = "carmen.node.celery"
PLUGINS = "carmen.node.celery.plugins"
TASK_MODULES = ("node.sync.tasks", "node.messaging.tasks")


def add_plugin_tasks(app: Flask, *, modules: list[str], beat: dict[str, dict[str, Any]]) -> None:
    """Run these task modules and beat entries too (the behaviours', from node/behaviours.py)."""
    app.extensions[PLUGINS] = (tuple(modules), dict(beat))


def celery_init_app(app: Flask) -> Celery:
    """Create the app's Celery instance; its tasks run inside this Flask app's context."""

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            if has_app_context():
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    plugin_modules, plugin_beat = app.extensions.get(PLUGINS, ((), {}))
    modules = [*TASK_MODULES, *plugin_modules]
    broker = app.config.get("BROKER_URL")
    celery = Celery(
        f"carmen-node-{app.config['TRACKING_PREFIX']}",
        task_cls=FlaskTask,
        include=modules,
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
            "sync-with-hub": {
                "task": "carmen_node.sync",
                "schedule": timedelta(seconds=int(app.config.get("SYNC_INTERVAL_SECONDS", 300))),
            },
            "notify-pending": {  # messages whose queueing was lost (node/messaging/tasks.py)
                "task": "carmen_node.notify_pending",
                "schedule": timedelta(minutes=5),
            },
            **plugin_beat,  # the behaviours' own (node/behaviours.py)
        },
    )
    for module in modules:
        __import__(module)
    app.extensions[EXTENSION] = celery
    return celery


def get_celery(app: Flask | None = None) -> Celery:
    """The Celery app of the given (or current) Flask app, created on first use."""
    app = app or current_app._get_current_object()
    return app.extensions.get(EXTENSION) or celery_init_app(app)
