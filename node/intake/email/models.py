"""The raw messages of accepted e-mail, archived with the case they opened or joined."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from node.database import Base, utcnow


class ArchivedMail(Base):
    """One accepted message as it came, byte for byte, kept as a file next to its case.

    What the case keeps of it (the description, a reply's text) is the writer's own words; the
    quoted message, the signature and every header stay here until the retention ends.
    """

    __tablename__ = "archived_mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    # Kept apart from the case's link, which an erasure cuts before it reaches this table.
    citizen_id: Mapped[int | None] = mapped_column(sa.ForeignKey("citizens.id"), index=True)
    message_id: Mapped[str | None] = mapped_column(sa.String(300))
    path: Mapped[str] = mapped_column(sa.String(500))  # relative to the instance folder
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    pruned_at: Mapped[datetime | None]  # the file was deleted: retention ended, or erasure
