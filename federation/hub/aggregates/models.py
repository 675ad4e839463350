"""Stored cells, one row per measure, and the services each node runs with their provenance."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from federation.hub.database import Base, utcnow
from federation.hub.nodes.models import OfNode


class AggregateCell(OfNode, Base):
    """One measure of one cell of the stored snapshot of a (node, period)."""

    __tablename__ = "aggregate_cells"
    __table_args__ = (
        # One value per measure of a cell: a second row would be counting twice.
        sa.UniqueConstraint(
            "snapshot_id",
            "service_code",
            "segment",
            "channel",
            "measure",
            name="uq_aggregate_cells_cell_measure",
        ),
        sa.Index("ix_aggregate_cells_service_period", "service", "period"),
        sa.Index("ix_aggregate_cells_node_period", "node_id", "period"),
    )

    snapshot_id: Mapped[int] = mapped_column(sa.ForeignKey("snapshots.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(sa.String(7))
    service_code: Mapped[str] = mapped_column(sa.String(64))
    service: Mapped[str] = mapped_column(sa.String(130))  # federation-wide identity
    template: Mapped[str] = mapped_column(sa.String(110))  # <template>@<version> or ""
    segment: Mapped[str] = mapped_column(sa.String(16))  # an AgeBand or "all"
    channel: Mapped[str] = mapped_column(sa.String(16))  # a Channel or "all"
    measure: Mapped[str] = mapped_column(sa.String(64))
    value: Mapped[int] = mapped_column(sa.BigInteger)


class NodeService(OfNode, Base):
    """A service a node runs, as its latest snapshot names it."""

    __tablename__ = "node_services"
    __table_args__ = (sa.UniqueConstraint("node_id", "code", name="uq_node_services_node_code"),)

    code: Mapped[str] = mapped_column(sa.String(64))
    service: Mapped[str] = mapped_column(sa.String(130))
    template: Mapped[str | None] = mapped_column(sa.String(64))
    template_version: Mapped[str | None] = mapped_column(sa.String(40))
    cloned_from_node: Mapped[str | None] = mapped_column(sa.String(63))
    cloned_from_service: Mapped[str | None] = mapped_column(sa.String(64))
    first_period: Mapped[str] = mapped_column(sa.String(7))
    last_period: Mapped[str] = mapped_column(sa.String(7))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
