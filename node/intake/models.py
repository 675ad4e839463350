"""Client applications allowed to submit requests through the Open311 API."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from node.database import Base, enum_type, utcnow


class ClientKind(StrEnum):
    """What a client is: its requests are recorded under the channel of the same name."""

    APP = "app"
    WEB = "web"


class ClientScope(StrEnum):
    """What a client's key lets it read through Open311 GET, beyond submitting requests."""

    PUBLIC = "public"  # what anyone reads: each service's [publish], redacted
    FULL = "full"  # the city's own app: every request as stored (text, address, coordinates)


class ClientApplication(Base):
    """A registered Open311 client; only the SHA-256 of its API key is kept."""

    __tablename__ = "client_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[ClientKind] = mapped_column(enum_type(ClientKind, 8), default=ClientKind.APP)
    # A key is 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(default=True)
    scope: Mapped[ClientScope] = mapped_column(
        enum_type(ClientScope, 16), default=ClientScope.PUBLIC, server_default="public"
    )
