"""Ingest API: nodes push signed snapshots here."""

from flask import Blueprint, current_app, request
from sqlalchemy.exc import IntegrityError, OperationalError

from federation.hub.bodies import parse_json, validate
from federation.hub.database import db_session, get_db, utcnow
from federation.hub.errors import HubError
from federation.hub.evaluations import service as evaluations
from federation.hub.evaluations.tasks import run_evaluation
from federation.hub.ingest import service
from federation.protocol.models import IngestReceipt, IngestStatus, MetricsSnapshot
from runtime.celery_app import send_after_commit

bp = Blueprint("ingest", __name__, url_prefix="/api/v1")
ATTEMPTS = 3


class HubBusy(HubError):
    """The database is busy with another writer; the node should retry."""

    status = 503
    code = "busy"


@bp.post("/snapshots")
def push_snapshot():
    """Verify, validate and upsert one signed MetricsSnapshot; answers an IngestReceipt."""
    body = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH this raises 413 first
    path = request.script_root + request.path
    if request.query_string:
        path += "?" + request.query_string.decode("latin-1")
    for attempt in range(ATTEMPTS):
        try:
            with get_db().write_lock:
                receipt = _ingest(body=body, path=path)
            break
        except (IntegrityError, OperationalError) as exc:
            # Two pushes of one node raced (unique constraint) or SQLite was busy: start over;
            # the rolled-back attempt stored nothing, not even its nonce.
            db_session().rollback()
            if attempt == ATTEMPTS - 1:
                raise HubBusy(f"the hub is busy, retry later ({type(exc).__name__})") from None
    return receipt.model_dump(mode="json")


def _ingest(*, body: bytes, path: str) -> IngestReceipt:
    """One attempt: authenticate, validate, upsert, commit (and then ask for an evaluation)."""
    config = current_app.config
    session = db_session()
    now = utcnow()
    node = service.authenticate_request(
        db_session=session,
        headers=request.headers,
        method=request.method,
        path=path,
        body=body,
        now=now,
        max_skew_seconds=config["MAX_CLOCK_SKEW_SECONDS"],
    )
    snapshot = validate(MetricsSnapshot, parse_json(body))
    receipt = service.ingest_snapshot(
        db_session=session, node=node, snapshot=snapshot, now=now, min_k=config["K"]
    )
    if receipt.status is IngestStatus.STORED and config["EVALUATE_ON_INGEST"]:
        run = evaluations.request_run(db_session=session, seed=config["EVALUATION_SEED"])
        if run is not None:
            countdown = config["EVALUATION_DEBOUNCE_SECONDS"]
            send_after_commit(session, run_evaluation, run.id, countdown=countdown)
    session.commit()
    return receipt
