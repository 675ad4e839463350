"""Evaluations read API: the latest results, and (admins) asking for a new run."""

from flask import Blueprint, current_app

from federation.hub.accounts.auth import require_token
from federation.hub.accounts.models import Role
from federation.hub.database import db_session
from federation.hub.evaluations import service
from federation.hub.evaluations.tasks import run_evaluation
from runtime.celery_app import send_after_commit

bp = Blueprint("evaluations", __name__, url_prefix="/api/v1/evaluations")


@bp.get("/latest")
@require_token()
def latest():
    """The latest successful evaluation run with its result tables and warnings."""
    return service.served_run(db_session=db_session()).model_dump(mode="json")


@bp.get("/latest/<table>")
@require_token()
def latest_table(table: str):
    """One result table of the latest successful run (rows as records), e.g. viability."""
    run = service.served_run(db_session=db_session())
    return service.result_table(run, table)


@bp.post("")
@require_token(Role.ADMIN)
def request_run():
    """Ask for an evaluation now (admins); answers the pending run."""
    session = db_session()
    run = service.request_run(db_session=session, seed=current_app.config["EVALUATION_SEED"])
    if run is not None:
        send_after_commit(session, run_evaluation, run.id)
    session.commit()
    if run is None:
        return {"status": "pending", "message": "an evaluation is pending already"}, 202
    session.refresh(run)
    return service.run_out(run).model_dump(mode="json"), 202
