"""Response bodies of the evaluations endpoints."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel


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
    results: dict[str, Any] | None
