"""The request nonces the hub has already seen."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from federation.hub.database import Base, utcnow
from federation.hub.nodes.models import OfNode


class SeenNonce(OfNode, Base):
    """A request nonce the hub has accepted; a second request with it is a replay."""

    __tablename__ = "seen_nonces"
    __table_args__ = (sa.UniqueConstraint("node_id", "nonce", name="uq_seen_nonces_node_nonce"),)

    nonce: Mapped[str] = mapped_column(sa.String(128))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
