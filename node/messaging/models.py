"""What the node tells citizens and what reaches it by SMS and e-mail: notifications, inbound
message ids (so a gateway's retry is answered once), and quarantined mail kept for staff."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from node.database import Base, enum_type, utcnow


class DeliveryStatus(StrEnum):
    """Where one notification stands."""

    PENDING = "pending"  # created, being tried (or waiting for a retry)
    SENT = "sent"
    FAILED = "failed"  # every attempt failed, or the channel refused it for good
    SKIPPED = "skipped"  # not sent on purpose: no consent, opted out, no contact


class Attempts:
    """What a delivery row keeps of its attempts (`messaging.service.note_failure` and
    `note_sent` write it): how many, the last error, when a failed one is tried again (the
    sweep queues it then, node/messaging/tasks.py), and when it was made and sent."""

    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class Notification(Attempts, Base):
    """One message telling a citizen about one event of their case, on one channel.

    The unique (event, channel) pair is what makes a retried or duplicated task harmless: the
    task finds the row already sent and does nothing. A row on the portal channel is itself the
    message the citizen reads in their account.
    """

    __tablename__ = "notifications"
    __table_args__ = (sa.UniqueConstraint("event_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id"))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    citizen_id: Mapped[int | None] = mapped_column(sa.ForeignKey("citizens.id"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus, 10), default=DeliveryStatus.PENDING
    )
    subject: Mapped[str] = mapped_column(sa.String(300), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    skip_reason: Mapped[str | None] = mapped_column(sa.String(100))
    # An e-mail's Message-ID, chosen before the first attempt: a retry sends the same one, and a
    # reply or a bounce that names it finds the case.
    message_id: Mapped[str | None] = mapped_column(sa.String(300), index=True)


class StaffAlert(Attempts, Base):
    """A danger report told to one member of staff on duty, by e-mail; one per (case, staff)."""

    __tablename__ = "staff_alerts"
    __table_args__ = (sa.UniqueConstraint("case_id", "staff_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_users.id"))
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus, 10), default=DeliveryStatus.PENDING, index=True
    )


class InboundMessage(Base):
    """A message a channel delivered, by the channel's own id (SMS MessageSid, mail Message-ID)."""

    __tablename__ = "inbound_messages"
    __table_args__ = (sa.UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    external_id: Mapped[str] = mapped_column(sa.String(300))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    outcome: Mapped[str] = mapped_column(sa.String(32))
    reply: Mapped[str | None] = mapped_column(sa.Text)  # answered again, unchanged, on a retry
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuarantinedMessage(Base):
    """Inbound mail the node could not place, kept as a file for staff to look at."""

    __tablename__ = "quarantined_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str] = mapped_column(sa.String(500))
    path: Mapped[str] = mapped_column(sa.String(500))  # relative to the instance folder
    size: Mapped[int]
    sender: Mapped[str | None] = mapped_column(sa.String(320))
    subject: Mapped[str | None] = mapped_column(sa.String(300))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    envelope_recipients: Mapped[list[str]] = mapped_column(default=list)  # as the MTA gave them
    # What sent it by itself, when it was (auto-replied, delivery-status...): no case for it.
    automatic: Mapped[str | None] = mapped_column(sa.String(32))
    # When it left the quarantine, how (released by staff, replayed after a fix), and the case
    # it opened or joined then.
    released_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(sa.String(16))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
