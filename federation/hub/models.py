"""Every hub model, imported so that Base.metadata knows all tables (Alembic reads it)."""

from federation.hub.accounts.models import ApiToken, User
from federation.hub.aggregates.models import AggregateCell, NodeService
from federation.hub.database import Base
from federation.hub.evaluations.models import EvaluationRun
from federation.hub.ingest.models import SeenNonce
from federation.hub.nodes.models import EnrollmentToken, Node, StoredSnapshot

__all__ = [
    "AggregateCell",
    "ApiToken",
    "Base",
    "EnrollmentToken",
    "EvaluationRun",
    "Node",
    "NodeService",
    "SeenNonce",
    "StoredSnapshot",
    "User",
]
