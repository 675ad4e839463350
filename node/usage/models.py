"""The usage clusters the node last learned, described by the figures staff read them by."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from node.database import Base, utcnow


class UsageCluster(Base):
    """One usage segment of the last fit: its size and the mean of every usage figure.

    Citizens in it carry a `usage` segment (node.profiles.models.CitizenSegment) whose value is
    this `value`; a new fit replaces every row.
    """

    __tablename__ = "usage_clusters"

    value: Mapped[str] = mapped_column(sa.String(100), primary_key=True)  # u1, u2, ...
    size: Mapped[int]
    share: Mapped[float]
    figures: Mapped[dict[str, Any]]  # feature -> mean over the cluster's citizens (or None)
    fitted_at: Mapped[datetime] = mapped_column(default=utcnow)
