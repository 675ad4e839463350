"""Nodes API: enrollment (for nodes) and the nodes with their health (for the read API)."""

from flask import Blueprint, current_app

from federation.hub.auth import require_token
from federation.hub.bodies import parse_json_body
from federation.hub.database import db_session, utcnow
from federation.hub.nodes import service
from federation.protocol.models import EnrollmentRequest, EnrollmentResponse

bp = Blueprint("nodes", __name__, url_prefix="/api/v1")


@bp.post("/enroll")
def enroll():
    """Register a node with a one-time token; answers the node id and the federation's k."""
    enrollment = parse_json_body(EnrollmentRequest)
    session = db_session()
    node = service.enroll_node(
        db_session=session,
        token=enrollment.token,
        registration=enrollment.registration,
        now=utcnow(),
    )
    session.commit()
    answer = EnrollmentResponse(node_id=node.id, node=node.slug, k=current_app.config["K"])
    return answer.model_dump(mode="json"), 201


@bp.get("/nodes")
@require_token()
def list_nodes():
    """Every enrolled node, with its context figures and last contact."""
    nodes = service.list_nodes(db_session=db_session())
    return {"nodes": [service.node_out(node).model_dump(mode="json") for node in nodes]}


@bp.get("/nodes/<slug>")
@require_token()
def get_node(slug: str):
    """One node."""
    node = service.get_node(db_session=db_session(), slug=slug)
    return service.node_out(node).model_dump(mode="json")


@bp.get("/nodes/<slug>/health")
@require_token()
def node_health(slug: str):
    """A node's sync health: last contact, periods held, periods it reported pending."""
    session = db_session()
    node = service.get_node(db_session=session, slug=slug)
    return service.node_health(db_session=session, node=node).model_dump(mode="json")
