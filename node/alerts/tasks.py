"""Celery tasks delivering alerts: thin, idempotent, retried with backoff, held by quiet hours."""

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from celery import shared_task
from flask import current_app
from sqlalchemy.orm import Session

from node.alerts import service as alerts
from node.alerts.models import Alert, AlertDelivery
from node.database import get_db
from node.messaging.tasks import current_adapters
from runtime.celery_app import DeliveryFailed, DeliveryTask, get_celery, send_after_commit

DELIVER = "carmen_node.deliver_alert"
DELIVER_DUE = "carmen_node.deliver_due_alerts"


@shared_task(name=DELIVER, base=DeliveryTask, bind=True, ignore_result=True)
def deliver_alert(self: DeliveryTask, delivery_id: int) -> None:
    """Try one alert delivery; a failure is recorded and retried, a hold is queued for later."""
    config = current_app.config
    with get_db().session() as db_session:
        service_code = db_session.scalar(
            sa.select(Alert.service_code)
            .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
            .where(AlertDelivery.id == delivery_id)
        )
        if service_code is None:
            return
        settings = alerts.settings_of(
            services_dir=config["SERVICES_DIR"], service_code=service_code
        )
        outcome = alerts.deliver(
            db_session=db_session,
            delivery_id=delivery_id,
            adapters=current_adapters(),
            settings=settings,
            city=config["CITY"],
            zone=ZoneInfo(config["TIMEZONE"]),
            **self.this_attempt(),
            unsubscribe_url=unsubscribe_url,
        )
        not_before = db_session.get(AlertDelivery, delivery_id).not_before
        db_session.commit()
    if outcome is alerts.Outcome.RETRY:
        raise DeliveryFailed(f"alert delivery {delivery_id} failed")
    if outcome is alerts.Outcome.DEFERRED and not self.app.conf.task_always_eager:
        # Held, not dropped: a worker picks it up when the hold ends (beat catches a lost one).
        self.apply_async(args=[delivery_id], eta=not_before)


def deliver_after_commit(*, db_session: Session, alert_id: int) -> None:
    """Send an alert's deliveries once its publication commits; the alert is published
    whatever happens to its messages, and the beat sweep retries what could not be queued."""
    for delivery_id in alerts.pending_deliveries(db_session=db_session, alert_id=alert_id):
        send_after_commit(db_session, DELIVER, delivery_id)


def unsubscribe_url(subscription_id: int) -> str:
    """The link in an alert that ends its subscription, without signing in."""
    config = current_app.config
    token = alerts.unsubscribe_token(secret=config["SECRET_KEY"], subscription_id=subscription_id)
    return f"{config['PUBLIC_URL']}/alerts/unsubscribe/{token}"


@shared_task(name=DELIVER_DUE, ignore_result=True)
def deliver_due_alerts() -> None:
    """Queue deliveries whose hold or retry time has come, or whose queueing was lost (run by
    beat, and by the node itself without a broker); `retries` carries on the attempt count."""
    with get_db().session() as db_session:
        due = alerts.due_deliveries(db_session=db_session)
        attempts = dict(
            db_session.execute(
                sa.select(AlertDelivery.id, AlertDelivery.attempts).where(AlertDelivery.id.in_(due))
            ).all()
        )
    task = get_celery().tasks[DELIVER]
    for delivery_id in due:
        task.apply_async(args=[delivery_id], retries=attempts.get(delivery_id, 0))
