"""Enrolled nodes, their public keys and health, one-time enrollment tokens, and the snapshots
they delivered (the highest revision per node and period)."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from federation.hub.database import Base, utcnow


class OfNode:
    """The columns of a row that belongs to one node and goes when the node's rows are deleted."""

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(sa.ForeignKey("nodes.id", ondelete="CASCADE"))


class Node(Base):
    """A city node of the federation; the hub keeps only its public key."""

    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True)
    city: Mapped[str] = mapped_column(sa.String(120))
    country: Mapped[str] = mapped_column(sa.String(2))
    population: Mapped[int] = mapped_column(sa.BigInteger)
    languages: Mapped[list[str]]
    channels: Mapped[list[str]]
    context: Mapped[dict[str, Any]]
    population_shares: Mapped[dict[str, Any] | None]
    public_key: Mapped[str] = mapped_column(sa.String(44))
    schema_version: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    # The first month the node may deliver (YYYY-MM), as its enrollment token stated it; None:
    # the hub's EARLIEST_PERIOD.
    pilot_start: Mapped[str | None] = mapped_column(sa.String(7))
    # Signed pushes refused while the node was suspended.
    suspended_pushes: Mapped[int] = mapped_column(default=0, server_default="0")
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Health: when the node last reached the hub with an accepted request, and what it said it
    # still had to deliver.
    last_sync_at: Mapped[datetime | None]
    last_stored_at: Mapped[datetime | None]
    pending_periods: Mapped[list[str]] = mapped_column(default=list)


class EnrollmentToken(Base):
    """A one-time token that lets one city's node enroll under one name; only its SHA-256 is
    stored."""

    __tablename__ = "enrollment_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    city: Mapped[str] = mapped_column(sa.String(120))
    country: Mapped[str] = mapped_column(sa.String(2))
    # None only on tokens issued before tokens named their node: those bind the city alone.
    node_slug: Mapped[str | None] = mapped_column(sa.String(63))
    pilot_start: Mapped[str | None] = mapped_column(sa.String(7))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    node_id: Mapped[int | None] = mapped_column(sa.ForeignKey("nodes.id"))


class StoredSnapshot(OfNode, Base):
    """The snapshot the hub holds for one (node, period): always the highest revision received."""

    __tablename__ = "snapshots"
    __table_args__ = (sa.UniqueConstraint("node_id", "period", name="uq_snapshots_node_period"),)

    period: Mapped[str] = mapped_column(sa.String(7))
    revision: Mapped[int] = mapped_column(sa.BigInteger)
    content_digest: Mapped[str] = mapped_column(sa.String(64))
    k: Mapped[int]
    dp_epsilon: Mapped[float | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
