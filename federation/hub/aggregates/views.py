"""Aggregates read API: services with provenance, and stored cells with filters."""

from flask import Blueprint, request

from federation.hub.accounts.auth import require_token
from federation.hub.aggregates import service
from federation.hub.database import db_session
from federation.hub.errors import HubError
from federation.hub.nodes import service as nodes

bp = Blueprint("aggregates", __name__, url_prefix="/api/v1")
MAX_LIMIT = 10_000


def _int_arg(name: str, default: int, *, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HubError(f"query parameter {name} must be an integer") from None
    if not low <= value <= high:
        raise HubError(f"query parameter {name} must be between {low} and {high}")
    return value


@bp.get("/services")
@require_token()
def list_services():
    """Every service of every node, with template and provenance (filter: ?node=)."""
    services = service.list_services(db_session=db_session(), node_slug=request.args.get("node"))
    return {"services": [item.model_dump(mode="json") for item in services]}


@bp.get("/nodes/<slug>/services")
@require_token()
def node_services(slug: str):
    """The services one node runs, with provenance."""
    session = db_session()
    nodes.get_node(db_session=session, slug=slug)
    services = service.list_services(db_session=session, node_slug=slug)
    return {"services": [item.model_dump(mode="json") for item in services]}


@bp.get("/aggregates")
@require_token()
def list_cells():
    """Stored cells; filters: service, node, period, segment, channel, measure; limit, offset."""
    page = service.query_cells(
        db_session=db_session(),
        service=request.args.get("service"),
        node=request.args.get("node"),
        period=request.args.get("period"),
        segment=request.args.get("segment"),
        channel=request.args.get("channel"),
        measure=request.args.get("measure"),
        limit=_int_arg("limit", 1000, low=1, high=MAX_LIMIT),
        offset=_int_arg("offset", 0, low=0, high=2**31),
    )
    return page.model_dump(mode="json")
