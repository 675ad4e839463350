"""Consultations: the poll itself, the register of who took part, and the anonymous tally.

The register and the tally are kept apart on purpose: a participation row names the citizen and
not the answer, a tally row names the answer and not the citizen, and neither carries a time or
an order that would let one be matched to the other.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from node.database import Base, enum_type, utcnow


class ConsultationStatus(StrEnum):
    """Where a consultation stands: open for participation (within its dates), or closed."""

    OPEN = "open"
    CLOSED = "closed"


class Consultation(Base):
    """One consultation of a consultation service, with the rules copied from its settings.toml."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # One consultation per service: the service's settings.toml describes exactly one poll.
    service_code: Mapped[str] = mapped_column(sa.ForeignKey("services.code"), unique=True)
    question: Mapped[str] = mapped_column(sa.Text)
    options: Mapped[list[str]]
    opens_on: Mapped[date]
    closes_on: Mapped[date]
    verification: Mapped[str] = mapped_column(sa.String(16))
    minimum_age: Mapped[int]
    # The city's time zone when it opened: the dates are days there, whatever the node does later.
    timezone: Mapped[str] = mapped_column(sa.String(64))
    # The service's messages.toml as it was when it opened, so replies do not change mid-poll.
    texts: Mapped[dict[str, Any]]
    status: Mapped[ConsultationStatus] = mapped_column(
        enum_type(ConsultationStatus, 10), default=ConsultationStatus.OPEN
    )
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class Participation(Base):
    """That a citizen took part, so they take part once; it never says what they answered."""

    __tablename__ = "consultation_participations"
    __table_args__ = (sa.UniqueConstraint("consultation_id", "citizen_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultations.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("citizens.id"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))


class TallyCount(Base):
    """How many participations chose one option: a counter, so no row stands for one person."""

    __tablename__ = "consultation_tallies"

    consultation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("consultations.id"), primary_key=True
    )
    option: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class ContactCheck(Base):
    """A one-time code sent to a citizen's phone or e-mail; entered, it verifies that contact."""

    __tablename__ = "consultation_contact_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("citizens.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(8))  # phone | email
    # The contact as it was when checked: a changed phone or e-mail is no longer verified.
    contact: Mapped[str] = mapped_column(sa.String(320))
    code_hash: Mapped[str] = mapped_column(sa.String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
