"""Ingest API: nodes push signed snapshots here."""

from flask import Blueprint, current_app, request
from sqlalchemy.exc import IntegrityError, OperationalError

from federation.hub.bodies import parse_json, read_body, validate
from federation.hub.database import db_session, get_db, utcnow
from federation.hub.errors import HubBusy
from federation.hub.evaluations import service as evaluations
from federation.hub.evaluations.tasks import run_evaluation
from federation.hub.ingest import service
from federation.protocol.models import IngestReceipt, IngestStatus, MetricsSnapshot
from runtime.celery_app import send_after_commit

bp = Blueprint("ingest", __name__, url_prefix="/api/v1")
ATTEMPTS = 3


@bp.post("/snapshots")
def push_snapshot():
    """Verify, validate and upsert one signed MetricsSnapshot; answers an IngestReceipt."""
    body = read_body()  # over the limit: 413, before the signature or the JSON is looked at
    path = request.script_root + request.path
    if request.query_string:
        path += "?" + request.query_string.decode("latin-1")
    for attempt in range(ATTEMPTS):
        try:
            with get_db().write_lock:
                receipt = _ingest(body=body, path=path)
            break
        except service.NodeSuspended as refused:
            _count_refused(refused)
            raise
        except (IntegrityError, OperationalError) as exc:
            # Two pushes of one node raced (unique constraint) or SQLite was busy: start over;
            # the rolled-back attempt stored nothing, not even its nonce.
            db_session().rollback()
            if attempt == ATTEMPTS - 1:
                raise HubBusy(f"the hub is busy, retry later ({type(exc).__name__})") from None
    return receipt.model_dump(mode="json")


def _count_refused(refused: service.NodeSuspended) -> None:
    """Keep the count of a suspended node's refused pushes, and nothing else of the request."""
    session = db_session()
    session.rollback()
    with get_db().write_lock:
        service.count_suspended_push(db_session=session, node_id=refused.node_id)
        session.commit()


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
        db_session=session,
        node=node,
        snapshot=snapshot,
        now=now,
        min_k=config["K"],
        earliest_period=config["EARLIEST_PERIOD"],
        max_skew_seconds=config["MAX_CLOCK_SKEW_SECONDS"],
    )
    if receipt.status is IngestStatus.STORED and config["EVALUATE_ON_INGEST"]:
        run = evaluations.request_run(db_session=session, seed=config["EVALUATION_SEED"])
        if run is not None:
            countdown = config["EVALUATION_DEBOUNCE_SECONDS"]
            send_after_commit(session, run_evaluation, run.id, countdown=countdown)
    session.commit()
    return receipt
