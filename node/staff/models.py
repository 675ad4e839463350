"""Staff accounts and the departments that own cases."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from node.database import Base, enum_type, utcnow


class Role(StrEnum):
    """What a staff member may do; each role includes the one before it in ROLE_ORDER."""

    AGENT = "agent"  # call centre: finds callers, opens cases on their behalf
    CASEWORKER = "caseworker"  # works the cases of one department
    SUPERVISOR = "supervisor"  # sees every department, the SLA overview
    ADMIN = "admin"  # manages staff and services
    PRIVACY = "privacy"  # answers data-subject requests: finds, exports and erases a person


# Caseworkers work their department's queue; answering callers is the call centre's job.
CONSOLE_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


class Department(Base):
    """A unit of the city administration that works cases."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))


class StaffUser(Base):
    """A member of the city's staff who signs in to the back office."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    role: Mapped[Role] = mapped_column(enum_type(Role, 20))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped by sign-out, a new password and disabling: every session signed in before ends.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship(lazy="joined")

    @property
    def sees_all_departments(self) -> bool:
        """Caseworkers see their department's cases only; every other role sees them all."""
        return self.role is not Role.CASEWORKER
