"""Celery task that closes consultations after their last day: thin, idempotent, run by beat."""

from celery import shared_task

from node.consultations import service as consultations
from node.database import get_db

CLOSE_DUE = "carmen_node.close_consultations"


@shared_task(name=CLOSE_DUE, ignore_result=True)
def close_due_consultations() -> list[int]:
    """Close every consultation past its close date; run again, it finds nothing left to close."""
    with get_db().session() as db_session:
        closed = consultations.close_due(db_session=db_session)
        db_session.commit()
    return closed
