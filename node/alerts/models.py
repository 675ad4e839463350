"""Alert subscriptions, the alerts staff publish, and one delivery per subscriber and channel."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.database import Base, enum_type, utcnow
from node.messaging.models import DeliveryStatus
from node.profiles.models import Citizen


class AlertSubscription(Base):
    """What one citizen wants to hear about from one alert service, on one delivery channel.

    One row per (service, citizen, delivery channel): subscribing again adds topics and areas to
    it, unsubscribing ends it (the row stays, so the history of who asked what is kept).
    """

    __tablename__ = "alert_subscriptions"
    __table_args__ = (sa.UniqueConstraint("service_code", "citizen_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_code: Mapped[str] = mapped_column(sa.ForeignKey("services.code"), index=True)
    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("citizens.id"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))  # delivery: sms, email or app
    topics: Mapped[list[str]]
    areas: Mapped[list[str]]  # area keys; "city" is the whole city
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]

    citizen: Mapped[Citizen] = relationship(lazy="joined")


class Alert(Base):
    """An alert staff published: a topic, the areas it concerns, an optional group profile."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_code: Mapped[str] = mapped_column(sa.ForeignKey("services.code"), index=True)
    topic: Mapped[str] = mapped_column(sa.String(64))
    areas: Mapped[list[str]]  # area keys; ["city"] concerns everybody
    # The group profile narrowing the alert, e.g. {"age_band": "75+"} or {"usage": "u2"}.
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    text: Mapped[str] = mapped_column(sa.Text)
    urgent: Mapped[bool] = mapped_column(default=False)  # sent in quiet hours too
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertDelivery(Base):
    """One alert to one subscriber on one channel; the unique triple makes retries harmless."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (sa.UniqueConstraint("alert_id", "citizen_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alerts.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("citizens.id"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus, 10), default=DeliveryStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    body: Mapped[str] = mapped_column(sa.Text, default="")
    # Quiet hours or the daily cap hold a delivery until then; None: as soon as possible.
    not_before: Mapped[datetime | None]
    skip_reason: Mapped[str | None] = mapped_column(sa.String(100))
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    alert: Mapped[Alert] = relationship(lazy="joined")
    citizen: Mapped[Citizen] = relationship()
