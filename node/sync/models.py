"""The node's side of the federation: its enrollment, and the outbox of period snapshots."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from node.database import Base


class FederationLink(Base):
    """The hub this node is enrolled with (one row at most)."""

    __tablename__ = "federation_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    hub_url: Mapped[str] = mapped_column(sa.String(500))
    node_slug: Mapped[str] = mapped_column(sa.String(63))
    node_id: Mapped[int]
    k: Mapped[int]
    enrolled_at: Mapped[datetime]


class SyncPeriod(Base):
    """One calendar month's snapshot: the latest revision built, and what the hub acknowledged.

    The payload of a revision is stored and re-sent unchanged, because the hub refuses the same
    revision with other content: a rebuilt snapshot that differs always gets a new revision.
    """

    __tablename__ = "sync_periods"

    period: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    revision: Mapped[int] = mapped_column(default=0)
    payload: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    content_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # What the events of the month looked like when last built (count and last id): a cheap
    # fingerprint that also notices events committed out of id order.
    source_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    built_at: Mapped[datetime | None]
    acknowledged_revision: Mapped[int] = mapped_column(default=0)
    acknowledged_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    # Privacy budget spent on this month over all its builds (differential privacy only).
    epsilon_spent: Mapped[float] = mapped_column(sa.Float, default=0.0)
    # Set when the hub refused the revision as a client error (4xx): resending cannot help.
    refused: Mapped[bool] = mapped_column(default=False)
    # Every revision that passed the audit and may have left (oldest first), with the exact
    # values it was built from and the keys it withheld: a later revision is audited against
    # all of them, as whoever holds them all could difference them.
    released: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    # Why the latest build is not in the outbox (its audit failed), and since when.
    held_reason: Mapped[str | None] = mapped_column(sa.String(500))
    held_since: Mapped[datetime | None]

    @property
    def pending(self) -> bool:
        """Whether the hub has yet to acknowledge the latest revision."""
        return self.revision > self.acknowledged_revision


class SyncLease(Base):
    """Who is syncing this node now, and until when: one sync at a time, on any database.

    Taken by a conditional UPDATE (free, or its holder's time is up), which both SQLite and
    PostgreSQL make atomic, and kept across the commits of a sync; a holder that died frees it
    when its time is up.
    """

    __tablename__ = "sync_lease"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(sa.String(64))
    expires_at: Mapped[datetime | None]


class CountAdjustment(Base):
    """What erasing people took from a period's counts, added back when the period is built.

    Erasure cuts a person's cases from them and forgets their segments, which would move their
    events to the unknown segment and count each of their requests as another person: a month
    already sent would change, and the revision would tell the hub that someone was erased.
    The differences are kept per cell, never per person (`value` is "" for a service's total).
    """

    __tablename__ = "count_adjustments"

    period: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    service_code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    dim: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    measure: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    delta: Mapped[int]
