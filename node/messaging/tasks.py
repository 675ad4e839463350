"""Celery tasks that tell citizens about their cases: thin, idempotent, retried with backoff."""

import random

from celery import Task, shared_task
from celery.exceptions import Retry
from flask import Flask, current_app

from node.celery_app import get_celery
from node.database import get_db
from node.messaging import service as messaging
from node.messaging.adapters import Adapters, adapters_from

EXTENSION = "carmen.node.messaging.adapters"
NOTIFY = "carmen_node.notify"
NOTIFY_PENDING = "carmen_node.notify_pending"


def use_adapters(app: Flask, adapters: Adapters | None) -> None:
    """Send through these adapters instead of the ones the settings name (None: the settings)."""
    if adapters is None:
        app.extensions.pop(EXTENSION, None)
    else:
        app.extensions[EXTENSION] = adapters


def current_adapters() -> Adapters:
    """The adapters of the current app."""
    return current_app.extensions.get(EXTENSION) or adapters_from(current_app.config)


def backoff(retries: int, *, base: float, cap: float) -> float:
    """Seconds before the next attempt: exponential with full jitter, so retries spread out."""
    return random.uniform(0, min(cap, base * 2**retries))


@shared_task(name=NOTIFY, bind=True, ignore_result=True)
def notify(self: Task, event_id: int) -> None:
    """Tell the citizen about one event; a failed attempt is recorded, then retried later."""
    config = current_app.config
    max_retries = int(config.get("MESSAGING_MAX_RETRIES", 5))
    retries = self.request.retries or 0
    with get_db().session() as db_session:
        outcome = messaging.deliver(
            db_session=db_session,
            event_id=event_id,
            attempt=retries + 1,
            final=retries >= max_retries,
            adapters=current_adapters(),
            city=str(config["CITY"]),
        )
        db_session.commit()
    if outcome is messaging.Outcome.RETRY:
        delay = backoff(
            retries,
            base=float(config.get("MESSAGING_RETRY_BACKOFF", 30)),
            cap=float(config.get("MESSAGING_RETRY_BACKOFF_MAX", 3600)),
        )
        raise self.retry(countdown=delay, max_retries=max_retries)


def _run(task: Task, event_id: int) -> None:
    if not task.app.conf.task_always_eager:
        task.apply_async(args=[event_id])
        return
    # Eager Celery re-raises a retry instead of running it; with no broker to wait on, the
    # attempts run here in turn (no backoff), each recorded like a worker's would be.
    limit = int(current_app.config.get("MESSAGING_MAX_RETRIES", 5))
    for retries in range(limit + 1):
        try:
            task.apply(args=[event_id], retries=retries, throw=True)
            return
        except Retry:
            continue


def notify_after_commit(*, case_id: int) -> None:
    """Queue the notifications of a case's new events; call it only after the commit.

    Never raises: the change is kept whatever happens to its messages, and a failure is logged.
    """
    try:
        with get_db().session() as db_session:
            event_ids = messaging.events_to_notify(db_session=db_session, case_id=case_id)
        task = get_celery().tasks[NOTIFY]
        for event_id in event_ids:
            _run(task, event_id)
    except Exception:  # the case change is committed; messages must not undo it
        current_app.logger.exception("could not notify the citizen of case %s", case_id)


@shared_task(name=NOTIFY_PENDING, ignore_result=True)
def notify_pending() -> None:
    """Queue every recent event nobody was told about yet (run by beat).

    It catches what a lost enqueue missed: a broker down at the moment of the commit, a worker
    killed before it wrote the notification row. A task queued twice is harmless.
    """
    with get_db().session() as db_session:
        event_ids = messaging.events_to_notify(db_session=db_session)
    task = get_celery().tasks[NOTIFY]
    for event_id in event_ids:
        _run(task, event_id)
