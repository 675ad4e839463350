"""Cases and the append-only event log that is the node's archive track."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.database import Base, enum_type, utcnow
from node.staff.models import Department, StaffUser


class CaseStatus(StrEnum):
    """Where a case is in its workflow."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


CLOSED_STATUSES = frozenset({CaseStatus.RESOLVED, CaseStatus.REJECTED, CaseStatus.DUPLICATE})


class Priority(StrEnum):
    """How urgently a case should be worked."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class EventKind(StrEnum):
    """Every kind of change the archive records."""

    SUBMITTED = "submitted"
    ROUTED = "routed"
    ACKNOWLEDGED = "acknowledged"
    STARTED = "started"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    MARKED_DUPLICATE = "marked_duplicate"
    REOPENED = "reopened"
    ASSIGNED = "assigned"
    PRIORITY_CHANGED = "priority_changed"
    NOTE_ADDED = "note_added"  # internal, never shown to the citizen
    REPLY_SENT = "reply_sent"  # public, shown to the citizen
    MESSAGE_RECEIVED = "message_received"
    MESSAGE_DELIVERED = "message_delivered"
    MESSAGE_FAILED = "message_failed"
    AUTOMATIC_MESSAGE = "automatic_message"  # an auto-reply or delivery report, no person's
    MAIL_RELEASED = "mail_released"  # staff accepted a quarantined message
    MAIL_REPLAYED = "mail_replayed"  # a quarantined message taken again after a fix
    STAFF_ALERTED = "staff_alerted"  # a danger report told to a member of staff on duty
    STAFF_ALERT_FAILED = "staff_alert_failed"
    FEEDBACK = "feedback"
    PROFILE_CREATED = "profile_created"
    PROFILE_UPDATED = "profile_updated"
    CONSENT_CHANGED = "consent_changed"
    DATA_EXPORTED = "data_exported"
    CITIZEN_ERASED = "citizen_erased"
    EVENTS_REDACTED = "events_redacted"  # the ledger of a redaction: which events, not what
    # Service behaviours beyond cases (alerts, bookings, consultations). Their events carry the
    # service code and, where a person is involved, the citizen; the template's [events] table
    # maps them onto the common vocabulary.
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    ALERT_PUBLISHED = "alert_published"
    ALERT_DELIVERED = "alert_delivered"
    ALERT_FAILED = "alert_failed"
    SLOTS_PUBLISHED = "slots_published"
    BOOKED = "booked"
    BOOKING_MOVED = "booking_moved"
    BOOKING_CANCELLED = "booking_cancelled"
    REMINDER_DELIVERED = "reminder_delivered"
    REMINDER_FAILED = "reminder_failed"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    CONSULTATION_OPENED = "consultation_opened"
    PARTICIPATED = "participated"
    CONSULTATION_CLOSED = "consultation_closed"


class ActorKind(StrEnum):
    """Who made a change."""

    CITIZEN = "citizen"
    STAFF = "staff"
    SYSTEM = "system"


class Case(Base):
    """A citizen's or business's request, worked by the city until it is closed."""

    __tablename__ = "cases"
    # The default queue: open cases by due time (node/cases/search.py holds the text index).
    __table_args__ = (sa.Index("ix_cases_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    service_code: Mapped[str] = mapped_column(sa.ForeignKey("services.code"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[CaseStatus] = mapped_column(
        enum_type(CaseStatus, 20), default=CaseStatus.NEW, index=True
    )
    priority: Mapped[Priority] = mapped_column(enum_type(Priority, 10), default=Priority.NORMAL)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    citizen_id: Mapped[int | None] = mapped_column(sa.ForeignKey("citizens.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    address: Mapped[str | None] = mapped_column(sa.String(300))
    lat: Mapped[float | None]
    long: Mapped[float | None]
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    media_url: Mapped[str | None] = mapped_column(sa.String(1000))
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    due_at: Mapped[datetime]
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    department: Mapped[Department] = relationship(lazy="joined")
    assignee: Mapped[StaffUser | None] = relationship(lazy="joined")
    # By name: profiles sit above cases (they record into the archive), so no import here.
    citizen: Mapped[Any] = relationship("Citizen")
    organisation: Mapped[Any] = relationship("Organisation")
    duplicate_of: Mapped["Case | None"] = relationship(remote_side=[id])

    @property
    def is_closed(self) -> bool:
        """Whether the case is resolved, rejected or a duplicate."""
        return self.status in CLOSED_STATUSES

    def sla_breached(self, now: datetime) -> bool:
        """Whether the case is past its due time: still open after it, or closed after it."""
        return (self.closed_at or now) > self.due_at


class Event(Base):
    """One change, appended and never updated or deleted: the archive track."""

    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_at_kind", "at", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[EventKind] = mapped_column(enum_type(EventKind, 32))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    # Set only on profile-level events (created, consent, erased); a case's events reach the
    # citizen through the case, so that erasure can cut that link without touching the log.
    citizen_id: Mapped[int | None] = mapped_column(sa.ForeignKey("citizens.id"), index=True)
    service_code: Mapped[str | None] = mapped_column(sa.String(64))
    channel: Mapped[str | None] = mapped_column(sa.String(16))
    actor_kind: Mapped[ActorKind] = mapped_column(enum_type(ActorKind, 10))
    actor_staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    actor_staff: Mapped[StaffUser | None] = relationship(lazy="joined")
    case: Mapped[Case | None] = relationship()


@sa.event.listens_for(Event, "before_update")
@sa.event.listens_for(Event, "before_delete")
def _refuse_changing_the_archive(_mapper: Any, _connection: Any, target: Event) -> None:
    raise RuntimeError(f"event {target.id} is part of the archive and cannot be changed")


class ImportedRequest(Base):
    """A case brought in from a city's earlier system, with its number there.

    The primary key makes an import idempotent: a legacy id of a source is imported once. The
    index on the number alone lets staff find the case a caller quotes that number for.
    """

    __tablename__ = "imported_requests"

    source: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    legacy_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True, index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), unique=True)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class CasePhoto(Base):
    """A photo a citizen or an agent sent with a request, kept as a file in the instance.

    The file is re-encoded by the node (node/cases/photos.py), so what is kept is an image and
    nothing else; `location_shared` says whether the citizen let its EXIF location stay. The
    thumbnail never keeps any EXIF: it is the one the public may see, under its random token,
    when the service publishes media.
    """

    __tablename__ = "case_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    # The person the photo came from, kept on the photo itself: erasure unlinks the cases first.
    citizen_id: Mapped[int | None] = mapped_column(sa.ForeignKey("citizens.id"), index=True)
    path: Mapped[str] = mapped_column(sa.String(500))  # relative to the instance folder
    thumbnail_path: Mapped[str] = mapped_column(sa.String(500), default="")
    public_token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(32))
    size: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    location_shared: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
