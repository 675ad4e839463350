"""Nodes API: enrollment (for nodes) and the nodes with their health (for the read API)."""

from flask import Blueprint, current_app
from sqlalchemy.exc import IntegrityError, OperationalError

from federation.hub.accounts.auth import require_token
from federation.hub.accounts.models import Role
from federation.hub.bodies import parse_json_body
from federation.hub.database import db_session, get_db, utcnow
from federation.hub.errors import Conflict, HubBusy
from federation.hub.nodes import service
from federation.protocol.models import EnrollmentRequest, EnrollmentResponse

bp = Blueprint("nodes", __name__, url_prefix="/api/v1")


@bp.post("/enroll")
def enroll():
    """Register a node with a one-time token; answers the node id and the federation's k."""
    enrollment = parse_json_body(EnrollmentRequest)
    session = db_session()
    try:
        with get_db().write_lock:
            node = service.enroll_node(
                db_session=session,
                token=enrollment.token,
                registration=enrollment.registration,
                now=utcnow(),
            )
            session.commit()
    except IntegrityError:
        # Another enrollment took this name or key between our check and our insert.
        session.rollback()
        raise Conflict("this node name or public key was enrolled at the same moment") from None
    except OperationalError:
        session.rollback()
        raise HubBusy("the hub is busy, retry the enrollment later") from None
    answer = EnrollmentResponse(node_id=node.id, node=node.slug, k=current_app.config["K"])
    return answer.model_dump(mode="json"), 201


def _out(node, warnings: dict[str, str]) -> dict:
    earliest = current_app.config["EARLIEST_PERIOD"]
    out = service.node_out(node, earliest_period=earliest, warning=warnings.get(node.slug))
    return out.model_dump(mode="json")


@bp.get("/nodes")
@require_token()
def list_nodes():
    """Every enrolled node, with its context figures, last contact and evaluation warning."""
    session = db_session()
    warnings = service.node_warnings(db_session=session)
    return {"nodes": [_out(node, warnings) for node in service.list_nodes(db_session=session)]}


@bp.get("/nodes/<slug>")
@require_token()
def get_node(slug: str):
    """One node."""
    session = db_session()
    node = service.get_node(db_session=session, slug=slug)
    return _out(node, service.node_warnings(db_session=session))


@bp.post("/nodes/<slug>/suspend")
@require_token(Role.ADMIN)
def suspend_node(slug: str):
    """Suspend a node (admins): its pushes are refused and counted, evaluations leave it out."""
    return _set_active(slug, active=False)


@bp.post("/nodes/<slug>/resume")
@require_token(Role.ADMIN)
def resume_node(slug: str):
    """Resume a suspended node (admins)."""
    return _set_active(slug, active=True)


def _set_active(slug: str, *, active: bool):
    session = db_session()
    node = service.set_active(db_session=session, slug=slug, active=active)
    session.commit()
    return _out(node, service.node_warnings(db_session=session))


@bp.get("/nodes/<slug>/health")
@require_token()
def node_health(slug: str):
    """A node's sync health: last contact, periods held, periods it reported pending."""
    session = db_session()
    node = service.get_node(db_session=session, slug=slug)
    return service.node_health(db_session=session, node=node).model_dump(mode="json")
