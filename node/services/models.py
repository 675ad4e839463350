"""The catalogue of services this node hosts, as loaded from the instance's services/ folder."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from node.database import Base, utcnow


class Service(Base):
    """One installed service; `spec` keeps the whole validated specification."""

    __tablename__ = "services"

    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    domain: Mapped[str] = mapped_column(sa.String(32))
    department_code: Mapped[str] = mapped_column(sa.String(64))
    sla_hours: Mapped[int]
    channels: Mapped[list[str]]
    sms_keyword: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    spec: Mapped[dict[str, Any]]
    # Where the service came from (template, version, answers, the city it was cloned from), as
    # read from provenance.json next to its service.toml; None for a hand-written service.
    provenance: Mapped[dict[str, Any] | None]
    active: Mapped[bool] = mapped_column(default=True)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
