"""Response bodies of the evaluations endpoints."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class RunAttempt(BaseModel):
    """A run newer than the one served, which did not succeed."""

    id: int
    status: str
    finished_at: datetime | None
    error: str | None


class EvaluationRunOut(BaseModel):
    """One evaluation run and, when done, its result tables."""

    id: int
    status: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    seed: int
    input_digest: str | None
    error: str | None
    warnings: list[dict[str, Any]] = Field(
        default_factory=list, description="Nodes the run left out, each with the reason."
    )
    latest_attempt: RunAttempt | None = Field(
        default=None, description="A newer run that failed; the results served are this run's."
    )
    results: dict[str, Any] | None
