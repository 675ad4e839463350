"""What the SMS channel remembers between two messages of one number: the question it asked."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from node.database import Base


class SmsDialogue(Base):
    """The question the node asked a citizen by SMS; their next message answers it.

    One per citizen: a new request, STOP or the expiry ends it. While a required question that
    has no catch-all choice is open, the request waits here (`text`, `answers`) without a case.
    """

    __tablename__ = "sms_dialogues"

    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("citizens.id"), primary_key=True)
    service_code: Mapped[str] = mapped_column(sa.ForeignKey("services.code"))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    text: Mapped[str | None] = mapped_column(sa.Text)  # the waiting request's words
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)  # given before the case opened
    asking: Mapped[str] = mapped_column(sa.String(64))  # the attribute code asked
    to_ask: Mapped[list[str]] = mapped_column(default=list)  # asked next, in this order
    tries: Mapped[int] = mapped_column(default=0)  # replies that did not answer it
    asked_at: Mapped[datetime]
    expires_at: Mapped[datetime]
