"""One Celery app per Flask app: eager and in-process when no broker is set, a real broker
otherwise; tasks run inside their Flask app's context and are sent only after the transaction
that asked for them commits.

`DeliveryTask` is the one pattern for telling someone something (a notification, an alert, a
reminder, a snapshot to the hub): one attempt per run, recorded by the service; Celery retries
a failed attempt with exponential backoff and full jitter until the attempts run out.
"""

import logging
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task
from celery.exceptions import Ignore
from celery.schedules import maybe_schedule
from celery.utils.time import get_exponential_backoff_interval
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from runtime.database import after_commit

EXTENSION = "carmen.celery"
POLICY = "carmen_retry_policy"  # the Celery configuration key holding the RetryPolicy
SENDER = "carmen.celery.sender"  # the app's background thread for eager sends, when it has one
log = logging.getLogger("carmen.tasks")


@dataclass(frozen=True)
class RetryPolicy:
    """How a delivery is retried: attempts after the first, and the backoff in seconds."""

    max_retries: int = 5
    backoff: int = 30  # the first retry waits up to this, doubled each time (full jitter)
    backoff_max: int = 3600


class FlaskCelery(Celery):
    """A Celery app that knows the Flask app its tasks run in."""

    flask_app: Flask


class FlaskTask(Task):
    """A task that runs inside its Flask app's context (a worker has none of its own)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Eager tasks run inside the caller's app context already; a worker's need one.
        if has_app_context():
            return self.run(*args, **kwargs)
        with self.app.flask_app.app_context():
            return self.run(*args, **kwargs)


class DeliveryFailed(Exception):
    """An attempt at a delivery failed and was recorded; Celery tries again later."""


class DeliveryTask(FlaskTask):
    """One attempt at a delivery per run; raising DeliveryFailed asks Celery for another.

    The task passes `this_attempt()` (`attempt`, `final`, `retry_delay`) to its service, which
    records the attempt and when the next one is due. With a broker Celery sends the retry after its
    countdown. Without one nothing could wait for it: the failed attempt stays on record with
    its due time, and the part's periodic sweep (its beat entries, which `EmbeddedBeat` runs
    in-process) queues the next attempt then, with `retries` set to the attempts made so far.
    """

    autoretry_for = (DeliveryFailed,)
    retry_jitter = True

    # The Celery app's RetryPolicy, unless a task sets its own (as options of its decorator).
    @property
    def max_retries(self) -> int:  # type: ignore[override]
        return self._policy().max_retries

    @property
    def retry_backoff(self) -> int:
        return self._policy().backoff

    @property
    def retry_backoff_max(self) -> int:
        return self._policy().backoff_max

    def _policy(self) -> RetryPolicy:
        return self.app.conf.get(POLICY) or RetryPolicy()

    @property
    def attempt(self) -> int:
        """The number of this attempt, from 1."""
        return (self.request.retries or 0) + 1

    @property
    def final(self) -> bool:
        """Whether this is the last attempt: a failure now is for good."""
        return (self.request.retries or 0) >= self.max_retries

    def retry_countdown(self) -> int:
        """Seconds before the next attempt, drawn once per attempt (exponential, full jitter)."""
        drawn = getattr(self.request, "carmen_countdown", None)
        if drawn is None:
            drawn = get_exponential_backoff_interval(
                factor=int(self.retry_backoff),
                retries=self.request.retries or 0,
                maximum=int(self.retry_backoff_max),
                full_jitter=self.retry_jitter,
            )
            self.request.carmen_countdown = drawn
        return drawn

    def this_attempt(self) -> dict[str, Any]:
        """What a delivery service is told of this attempt, as its keyword arguments."""
        return {"attempt": self.attempt, "final": self.final, "retry_delay": self.retry_countdown()}

    def retry(self, *args: Any, countdown: float | None = None, **options: Any) -> Any:
        if self.request.is_eager:
            # Eager Celery would run the next attempt at once, in the caller's request; the
            # sweep sends it when it is due instead.
            raise Ignore()
        # Autoretry draws a countdown of its own; the one the service was told is kept, so that
        # the time recorded for the next attempt is the time it comes.
        return super().retry(*args, countdown=self.retry_countdown(), **options)

    def apply(self, *args: Any, **options: Any) -> Any:
        # Celery runs an eager retry in turn only when apply() does not re-raise the Retry; a
        # failure is still logged by Celery, and every attempt is on record in the database.
        options.setdefault("throw", False)
        return super().apply(*args, **options)


def celery_init_app(
    app: Flask,
    *,
    name: str,
    broker_url: str | None,
    queue: str,
    task_modules: Iterable[str],
    beat_schedule: Mapping[str, Any] | None = None,
    retry_policy: RetryPolicy | None = None,
    background: bool = False,
    **conf: Any,
) -> Celery:
    """Create the app's Celery app: eager without a broker, late acknowledgements, one queue.

    With `background` and no broker, the tasks a commit sends run on one thread of the app's
    own, so that the request that asked for them answers without waiting for a mail server.
    """
    modules = list(task_modules)
    celery = FlaskCelery(name, task_cls=FlaskTask, include=modules)
    celery.flask_app = app
    celery.conf.update(
        broker_url=broker_url or "memory://",
        task_always_eager=not broker_url,
        task_eager_propagates=True,
        task_acks_late=True,  # a task lost with its worker is delivered again; tasks are idempotent
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # Parts (and ASP mode's nodes) sharing one broker keep their tasks apart by queue.
        task_default_queue=queue,
        beat_schedule=dict(beat_schedule or {}),
        **{POLICY: retry_policy or RetryPolicy()},
        **conf,
    )
    for module in modules:
        __import__(module)
    app.extensions[EXTENSION] = celery
    if background:
        send_in_background(app)
    return celery


def send_in_background(app: Flask) -> None:
    """Run the tasks a commit sends on one thread of the app's own, when it has no broker (a
    serving process; a command that exits at once had better send before it does)."""
    if get_celery(app).conf.task_always_eager and SENDER not in app.extensions:
        app.extensions[SENDER] = ThreadPoolExecutor(1, thread_name_prefix="carmen-send")


def get_celery(app: Flask | None = None) -> Celery:
    """The Celery app of the given Flask app, or of the current one."""
    return (app or current_app).extensions[EXTENSION]


def send_after_commit(db_session: Session, task: Task | str, *args: Any, **options: Any) -> None:
    """Send a task of the current app once the session's transaction commits; nothing is sent
    if it rolls back, and a broker that refuses is logged without undoing the commit."""
    name = task if isinstance(task, str) else task.name
    signature = get_celery().tasks[name].signature(args, **options)
    sender = current_app.extensions.get(SENDER)
    if sender is None:
        after_commit(db_session, signature.apply_async)
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def send() -> None:
        with app.app_context():
            try:
                signature.apply_async()
            except Exception:  # the task recorded its attempt; a crash must not kill the thread
                log.exception("task %s failed on the background thread", name)

    after_commit(db_session, lambda: sender.submit(send))


def wait_for_background_sends(app: Flask, timeout: float = 30.0) -> None:
    """Wait until the tasks handed to the app's background thread so far have run."""
    sender = app.extensions.get(SENDER)
    if sender is not None:
        sender.submit(lambda: None).result(timeout=timeout)


class EmbeddedBeat(threading.Thread):
    """Celery beat's schedule, run on a thread of a node served without a broker.

    Every entry of the app's `beat_schedule` runs when it is due, in the app's context, the
    first time one interval after the start; a task that raises is logged and tried again at
    its next time. `stop()` ends the thread at its next tick.
    """

    def __init__(self, app: Flask, *, tick: float = 5.0) -> None:
        super().__init__(name="carmen-beat", daemon=True)
        self.app, self.tick = app, tick
        self._stopped = threading.Event()

    def stop(self) -> None:
        """End the thread at its next tick."""
        self._stopped.set()

    def run(self) -> None:
        celery = get_celery(self.app)
        entries = {
            name: (entry["task"], maybe_schedule(entry["schedule"], app=celery))
            for name, entry in celery.conf.beat_schedule.items()
        }
        last = {name: schedule.now() for name, (_task, schedule) in entries.items()}
        while not self._stopped.wait(self.tick):
            for name, (task, schedule) in entries.items():
                if not schedule.is_due(last[name]).is_due:
                    continue
                last[name] = schedule.now()
                with self.app.app_context():
                    try:
                        celery.tasks[task].apply()
                    except Exception:
                        log.exception("scheduled task %s (%s) failed", name, task)
