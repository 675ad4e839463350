"""Response bodies of the nodes endpoints."""

from datetime import datetime

from pydantic import BaseModel, Field


class StoredPeriod(BaseModel):
    """A period the hub holds for a node, and the revision it holds."""

    period: str
    revision: int
    updated_at: datetime


class NodeHealth(BaseModel):
    """How a node's sync stands: last contact, periods held, periods the node said were pending."""

    node: str
    active: bool
    suspended_pushes: int = Field(description="Signed pushes refused while suspended.")
    last_sync_at: datetime | None
    last_stored_at: datetime | None
    pending_periods: list[str]
    latest_period: str | None
    stored_periods: list[StoredPeriod]


class NodeOut(BaseModel):
    """A node as the read API shows it."""

    node: str
    node_id: int
    city: str
    country: str
    population: int
    languages: list[str]
    channels: list[str]
    context: dict[str, float]
    population_shares: dict[str, float] | None
    enrolled_at: datetime
    pilot_start: str = Field(description="The first month the hub accepts from this node.")
    active: bool
    suspended_pushes: int = Field(description="Signed pushes refused while suspended.")
    last_sync_at: datetime | None
    pending_periods: list[str]
    evaluation_warning: str | None = Field(
        default=None, description="Why the evaluation served left this node out, if it did."
    )


class EnrollmentTokenOut(BaseModel):
    """A freshly issued enrollment token: shown once."""

    token: str
    city: str
    country: str
    expires_at: datetime
