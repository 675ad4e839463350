"""Celery tasks delivering alerts: thin, idempotent, retried with backoff, held by quiet hours."""

from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from celery import Task, shared_task
from celery.exceptions import Retry
from flask import current_app

from node.alerts import service as alerts
from node.alerts.models import Alert, AlertDelivery
from node.celery_app import get_celery
from node.database import get_db
from node.messaging.tasks import backoff, current_adapters

DELIVER = "carmen_node.deliver_alert"
DELIVER_DUE = "carmen_node.deliver_due_alerts"


@shared_task(name=DELIVER, bind=True, ignore_result=True)
def deliver_alert(self: Task, delivery_id: int) -> None:
    """Try one alert delivery; a failure is recorded and retried, a hold is queued for later."""
    config = current_app.config
    max_retries = int(config.get("MESSAGING_MAX_RETRIES", 5))
    retries = self.request.retries or 0
    delay = backoff(
        retries,
        base=float(config.get("MESSAGING_RETRY_BACKOFF", 30)),
        cap=float(config.get("MESSAGING_RETRY_BACKOFF_MAX", 3600)),
    )
    with get_db().session() as db_session:
        service_code = db_session.scalar(
            sa.select(Alert.service_code)
            .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
            .where(AlertDelivery.id == delivery_id)
        )
        if service_code is None:
            return
        settings = alerts.settings_of(
            services_dir=Path(config["SERVICES_DIR"]), service_code=service_code
        )
        outcome = alerts.deliver(
            db_session=db_session,
            delivery_id=delivery_id,
            attempt=retries + 1,
            final=retries >= max_retries,
            adapters=current_adapters(),
            settings=settings,
            city=str(config["CITY"]),
            zone=ZoneInfo(str(config["TIMEZONE"])),
            retry_delay=delay,
        )
        not_before = db_session.get(AlertDelivery, delivery_id).not_before
        db_session.commit()
    if outcome is alerts.Outcome.RETRY:
        raise self.retry(countdown=delay, max_retries=max_retries)
    if outcome is alerts.Outcome.DEFERRED and not self.app.conf.task_always_eager:
        # Held, not dropped: a worker picks it up when the hold ends (beat catches a lost one).
        self.apply_async(args=[delivery_id], eta=not_before)


def _run(task: Task, delivery_id: int) -> None:
    if not task.app.conf.task_always_eager:
        task.apply_async(args=[delivery_id])
        return
    # Eager Celery re-raises a retry instead of running it; the attempts run here in turn.
    limit = int(current_app.config.get("MESSAGING_MAX_RETRIES", 5))
    for retries in range(limit + 1):
        try:
            task.apply(args=[delivery_id], retries=retries, throw=True)
            return
        except Retry:
            continue


def deliver_after_commit(*, alert_id: int) -> None:
    """Queue an alert's deliveries; call it only after the publication is committed.

    Never raises: the alert is published whatever happens to its messages; the beat sweep
    retries what could not be queued.
    """
    try:
        with get_db().session() as db_session:
            delivery_ids = alerts.pending_deliveries(db_session=db_session, alert_id=alert_id)
        task = get_celery().tasks[DELIVER]
        for delivery_id in delivery_ids:
            _run(task, delivery_id)
    except Exception:  # the alert is committed; its messages must not undo it
        current_app.logger.exception("could not queue the deliveries of alert %s", alert_id)


@shared_task(name=DELIVER_DUE, ignore_result=True)
def deliver_due_alerts() -> None:
    """Queue deliveries whose hold ended or whose queueing was lost (run by beat)."""
    with get_db().session() as db_session:
        delivery_ids = alerts.due_deliveries(db_session=db_session)
    task = get_celery().tasks[DELIVER]
    for delivery_id in delivery_ids:
        _run(task, delivery_id)
