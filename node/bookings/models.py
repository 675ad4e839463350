"""Slots an office publishes, the bookings that take them, and the one reminder per booking."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.database import Base, enum_type, utcnow
from node.messaging.models import Attempts, DeliveryStatus
from node.profiles.models import Citizen


class BookingStatus(StrEnum):
    """Where one booking stands."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


class Slot(Base):
    """One desk of one office for one period: at most one booking can hold it."""

    __tablename__ = "booking_slots"
    __table_args__ = (sa.UniqueConstraint("service_code", "office", "starts_at", "desk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_code: Mapped[str] = mapped_column(sa.ForeignKey("services.code"), index=True)
    office: Mapped[str] = mapped_column(sa.String(64))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    desk: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Booking(Base):
    """A citizen's appointment. While it holds a slot, `slot_id` is set, and the unique
    constraint on it is what makes a double booking impossible even between two workers;
    a cancelled booking lets its slot go (NULL) and keeps when and where it was."""

    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(20), unique=True)
    service_code: Mapped[str] = mapped_column(sa.ForeignKey("services.code"), index=True)
    slot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("booking_slots.id"), unique=True)
    citizen_id: Mapped[int | None] = mapped_column(sa.ForeignKey("citizens.id"), index=True)
    office: Mapped[str] = mapped_column(sa.String(64))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    purpose: Mapped[str] = mapped_column(sa.String(64))
    channel: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[BookingStatus] = mapped_column(
        enum_type(BookingStatus, 10), default=BookingStatus.BOOKED, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    slot: Mapped[Slot | None] = relationship()
    citizen: Mapped[Citizen | None] = relationship()


class Reminder(Attempts, Base):
    """The reminder of one booking: the unique booking id makes a second one impossible."""

    __tablename__ = "booking_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("bookings.id"), unique=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus, 10), default=DeliveryStatus.PENDING
    )
    body: Mapped[str] = mapped_column(sa.Text, default="")
    skip_reason: Mapped[str | None] = mapped_column(sa.String(100))
