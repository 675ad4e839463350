"""Celery tasks that tell citizens about their cases: thin, idempotent, retried with backoff."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import shared_task
from flask import Flask, current_app
from sqlalchemy.orm import Session

from node.cases.models import Case
from node.database import get_db
from node.messaging import service as messaging
from node.messaging.adapters import Adapters, adapters_from
from runtime.celery_app import DeliveryFailed, DeliveryTask, get_celery, send_after_commit

EXTENSION = "carmen.node.messaging.adapters"
NOTIFY = "carmen_node.notify"
NOTIFY_PENDING = "carmen_node.notify_pending"
ALERT_STAFF = "carmen_node.alert_staff"
# With a broker, a retry still not made this long after its time was lost with its worker.
LOST_RETRY = timedelta(minutes=15)


def use_adapters(app: Flask, adapters: Adapters | None) -> None:
    """Send through these adapters instead of the ones the settings name (None: the settings)."""
    if adapters is None:
        app.extensions.pop(EXTENSION, None)
    else:
        app.extensions[EXTENSION] = adapters


def current_adapters() -> Adapters:
    """The adapters of the current app."""
    return current_app.extensions.get(EXTENSION) or adapters_from(current_app.config)


def run_attempt(
    task: DeliveryTask, deliver: Callable[..., messaging.Outcome], failed: str, **arguments: Any
) -> None:
    """Make one attempt through a delivery service in a session of its own, committed whatever
    the outcome (the attempt is on record); one to retry raises DeliveryFailed(failed)."""
    with get_db().session() as db_session:
        outcome = deliver(
            db_session=db_session, adapters=current_adapters(), **task.this_attempt(), **arguments
        )
        db_session.commit()
    if outcome is messaging.Outcome.RETRY:
        raise DeliveryFailed(failed)


@shared_task(name=NOTIFY, base=DeliveryTask, bind=True, ignore_result=True)
def notify(self: DeliveryTask, event_id: int) -> None:
    """Tell the citizen about one event; a failed attempt is recorded, then retried later."""
    config = current_app.config
    run_attempt(
        self,
        messaging.deliver,
        f"event {event_id}: the citizen could not be told yet",
        event_id=event_id,
        city=config["CITY"],
        mail_from=config["MAIL_FROM"],
        public_url=config["PUBLIC_URL"],
    )


def lost_after() -> timedelta:
    """How late a due retry must be before a sweep sends it: at once without a broker (nothing
    else will), well past its time with one (Celery's own retry comes first)."""
    return timedelta(0) if get_celery().conf.task_always_eager else LOST_RETRY


@shared_task(name=ALERT_STAFF, base=DeliveryTask, bind=True, ignore_result=True)
def alert_staff(self: DeliveryTask, alert_id: int) -> None:
    """Tell a member of staff on duty of a danger report; a failure is retried later."""
    config = current_app.config
    run_attempt(
        self,
        messaging.alert_staff,
        f"staff alert {alert_id} could not be sent yet",
        alert_id=alert_id,
        city=config["CITY"],
        public_url=config["PUBLIC_URL"],
    )


def alert_staff_after_commit(*, db_session: Session, case_id: int, alert: bool) -> None:
    """For a danger report, alert the staff on duty once the new case is committed."""
    if not alert:
        return
    case = db_session.get(Case, case_id)
    for row in messaging.plan_staff_alerts(db_session=db_session, case=case):
        send_after_commit(db_session, ALERT_STAFF, row.id)


def notify_after_commit(*, db_session: Session, case_id: int) -> None:
    """Tell the citizen about the case's new events once the session commits (a rolled-back
    change is never announced, and the change is kept whatever happens to its messages)."""
    for event_id in messaging.events_to_notify(db_session=db_session, case_id=case_id):
        send_after_commit(db_session, NOTIFY, event_id)


@shared_task(name=NOTIFY_PENDING, ignore_result=True)
def notify_pending() -> None:
    """Queue every recent event nobody was told about yet, and every failed message whose retry
    is due (run by beat, and by the node itself without a broker).

    It catches what a lost enqueue missed (a broker down at the moment of the commit, a worker
    killed before it wrote the notification row) and, without a broker, is what retries a
    failed message. A task queued twice is harmless; `retries` carries on the count of attempts.
    """
    with get_db().session() as db_session:
        event_ids = messaging.events_to_notify(db_session=db_session)
        retries = messaging.due_retries(db_session=db_session, lost_after=lost_after())
        staff_alerts = messaging.due_staff_alerts(db_session=db_session, lost_after=lost_after())
    task = get_celery().tasks[NOTIFY]
    for event_id in event_ids:
        task.apply_async(args=[event_id])
    for event_id, attempts in retries:
        task.apply_async(args=[event_id], retries=attempts)
    for alert_id, attempts in staff_alerts:
        get_celery().tasks[ALERT_STAFF].apply_async(args=[alert_id], retries=attempts)
