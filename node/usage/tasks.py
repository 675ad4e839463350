"""The Celery task that refits the usage segments (beat runs it daily)."""

from celery import shared_task

from node.database import get_db
from node.usage import service as usage

FIT = "carmen_node.fit_usage_segments"


@shared_task(name=FIT, ignore_result=True)
def fit_usage_segments() -> int:
    """Refit the usage segments on the node's citizens; returns how many clusters it found."""
    with get_db().session() as db_session:
        found = usage.fit_segments(db_session=db_session)
        db_session.commit()
    return len(found)
