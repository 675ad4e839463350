"""Ingest housekeeping tasks."""

from celery import shared_task
from flask import current_app

from federation.hub.database import get_db, utcnow
from federation.hub.ingest import service


@shared_task(name="carmen_hub.prune_nonces")
def prune_nonces() -> int:
    """Delete nonces older than the retention window (idempotent; beat runs it hourly)."""
    retention = max(
        current_app.config["NONCE_RETENTION_SECONDS"],
        2 * current_app.config["MAX_CLOCK_SKEW_SECONDS"],
    )
    with get_db().session() as session:
        removed = service.prune_nonces(
            db_session=session, now=utcnow(), older_than_seconds=retention
        )
        session.commit()
    return removed
