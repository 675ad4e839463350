"""Personal and group profiles: citizens, organisations and the segments citizens fall into.

This is where personal data lives on a node; none of it ever leaves the node.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.database import Base, enum_type, utcnow


class SegmentKind(StrEnum):
    """The kinds of group profile a citizen falls into."""

    AGE_BAND = "age_band"
    DISTRICT = "district"
    CHANNEL_FAMILY = "channel_family"
    USAGE = "usage"  # learned from the node's own data


class Citizen(Base):
    """A citizen's personal profile: contact, preferences and consent."""

    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(sa.String(20), unique=True)  # E.164
    preferred_channel: Mapped[str] = mapped_column(sa.String(16), default="email")
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    consent_contact: Mapped[bool] = mapped_column(default=True)  # may be told about own requests
    consent_profiling: Mapped[bool] = mapped_column(default=False)  # may be put in usage segments
    sms_opt_out: Mapped[bool] = mapped_column(default=False)
    district: Mapped[str | None] = mapped_column(sa.String(100))
    birth_year: Mapped[int | None]
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    # Bumped by sign-out, a new password and erasure: every session signed in before ends.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None]

    segments: Mapped[list["CitizenSegment"]] = relationship(
        back_populates="citizen", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def display_name(self) -> str:
        """A name to show staff: the name, else the contact, else the profile number."""
        return self.name or self.email or self.phone or f"Citizen #{self.id}"


class VerificationPurpose(StrEnum):
    """Why a contact is being verified."""

    SIGNUP = "signup"  # a new account, created only when its e-mail is verified
    CONTACT = "contact"  # an account's new e-mail or phone, set only when verified
    RESET = "reset"  # a new password for the account that holds the e-mail


class ContactVerification(Base):
    """A link sent by e-mail or a code sent by SMS that proves a contact is the person's.

    Until it is used nothing is attached to the contact: a sign-up waits here with its profile
    (and password hash) in `data`, so that an address typed by an impostor owns nothing.
    """

    __tablename__ = "contact_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[VerificationPurpose] = mapped_column(enum_type(VerificationPurpose, 10))
    kind: Mapped[str] = mapped_column(sa.String(8))  # email | phone
    address: Mapped[str] = mapped_column(sa.String(320), index=True)
    citizen_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("citizens.id", ondelete="CASCADE"), index=True
    )
    # sha256 of a link's token (looked up by it), argon2 of an SMS code (checked per account).
    secret_hash: Mapped[str] = mapped_column(sa.String(200), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Organisation(Base):
    """A business, SME or association that deals with the city through a contact person."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(32), default="sme")  # business | sme | association
    registration_number: Mapped[str | None] = mapped_column(sa.String(64))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    district: Mapped[str | None] = mapped_column(sa.String(100))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("citizens.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Citizen | None] = relationship(lazy="joined")


class SegmentDefinition(Base):
    """A group profile that citizens can fall into, e.g. age band 55-74 or district Navile."""

    __tablename__ = "segment_definitions"
    __table_args__ = (sa.UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[SegmentKind] = mapped_column(enum_type(SegmentKind, 20))
    value: Mapped[str] = mapped_column(sa.String(100))
    label: Mapped[str] = mapped_column(sa.String(200))


class CitizenSegment(Base):
    """The segment of one kind that a citizen is in now."""

    __tablename__ = "citizen_segments"

    citizen_id: Mapped[int] = mapped_column(
        sa.ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[SegmentKind] = mapped_column(enum_type(SegmentKind, 20), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(100))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)

    citizen: Mapped[Citizen] = relationship(back_populates="segments")
