"""The evaluation task: debounced after ingest, idempotent by run id."""

from celery import shared_task
from flask import current_app

from federation.hub.database import get_db, utcnow
from federation.hub.evaluations import service


@shared_task(name="carmen_hub.run_evaluation")
def run_evaluation(run_id: int) -> str | None:
    """Run a pending evaluation; a run already started or finished is left alone."""
    with get_db().session() as session:
        run = service.start_run(db_session=session, run_id=run_id, now=utcnow())
        # Commit "running" first so a second delivery of this task does nothing.
        session.commit()
        if run is None:
            return None
        service.execute_run(
            db_session=session,
            run=run,
            now=utcnow(),
            options=service.evaluation_options(current_app.config),
            europe_cities_csv=current_app.config["EUROPE_CITIES"],
        )
        run.finished_at = utcnow()
        session.commit()
        return run.status
