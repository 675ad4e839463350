"""Celery tasks that keep the hub up to date: thin, idempotent, re-reading the outbox each time."""

from pathlib import Path

from celery import shared_task
from flask import current_app

from federation.protocol.client import PushOutcome
from node.database import get_db
from node.sync import service as sync
from node.sync.models import SyncPeriod
from runtime.celery_app import DeliveryFailed, DeliveryTask, get_celery


class HubUnavailable(DeliveryFailed):
    """The hub answered 5xx or could not be reached: try again later."""


@shared_task(name="carmen_node.sync", ignore_result=True)
def sync_with_hub() -> None:
    """Rebuild changed periods, then queue a push of every pending one.

    A sync already running (a `carmen node sync` by hand) builds what this one would: skip.
    """
    with get_db().session() as db_session:
        try:
            with sync.sync_lease(db_session=db_session, wait_seconds=0):
                sync.refresh_outbox(
                    db_session=db_session,
                    privacy=sync.noise_settings(current_app.config),
                    release=sync.release_settings(current_app.config),
                )
                db_session.commit()
        except sync.SyncBusy:
            current_app.logger.info("a sync is running already; this one is skipped")
            return
        periods = [p.period for p in sync.pending_periods(db_session=db_session) if not p.refused]
    push = get_celery().tasks["carmen_node.push_period"]
    for period in periods:
        push.apply_async(args=[period])


@shared_task(
    name="carmen_node.push_period",
    base=DeliveryTask,
    ignore_result=True,
    retry_backoff=5,  # 5 s, 10 s, 20 s ... with full jitter, so nodes do not retry in step
    retry_backoff_max=600,
    max_retries=8,
)
def push_period(period: str) -> None:
    """Send a period's latest revision; 5xx and network errors retry, 4xx are only recorded."""
    key = sync.load_or_create_key(Path(current_app.instance_path))
    with get_db().session() as db_session:
        row = db_session.get(SyncPeriod, period)
        if row is None or not row.pending:
            return  # acknowledged meanwhile: nothing to do
        result = sync.push_period(db_session=db_session, period=period, key=key)
        db_session.commit()
    if result.outcome is PushOutcome.RETRY:
        raise HubUnavailable(f"{period}: {result.message}")
    if not result.acknowledged:
        current_app.logger.error("hub refused %s: %s", period, result.message)
