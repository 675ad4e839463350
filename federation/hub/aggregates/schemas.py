"""Response bodies of the aggregates endpoints."""

from pydantic import BaseModel


class ServiceOut(BaseModel):
    """A service a node runs, with its federation-wide identity and provenance."""

    node: str
    code: str
    service: str
    template: str | None
    template_version: str | None
    cloned_from_node: str | None
    cloned_from_service: str | None
    first_period: str
    last_period: str


class CellOut(BaseModel):
    """One stored measure of one cell."""

    node: str
    period: str
    service: str
    service_code: str
    template: str
    segment: str
    channel: str
    measure: str
    value: int


class CellPage(BaseModel):
    """A page of stored cells."""

    total: int
    limit: int
    offset: int
    cells: list[CellOut]
