"""Evaluation runs over the stored aggregates and their results."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from federation.hub.database import Base, utcnow


class EvaluationRun(Base):
    """One run of the evaluation package over the export tables."""

    __tablename__ = "evaluation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)  # pending/running/done/failed
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    seed: Mapped[int]
    input_digest: Mapped[str | None] = mapped_column(sa.String(64))
    results: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    # What the run left out and why: [{"node": slug or None, "message": text}].
    warnings: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
