"""Keys and enrollment: the node's signing key, its registration and its link to the hub."""

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from federation.protocol import client as hub_client
from federation.protocol.models import NodeRegistration, default_node_slug
from federation.protocol.signing import (
    generate_private_key,
    private_key_from_pem,
    private_key_to_pem,
    public_key_b64,
)
from federation.protocol.vocabulary import CITIZEN_CHANNELS
from node.database import utcnow
from node.errors import NotFound
from node.sync.models import FederationLink
from runtime.private_files import write_private

KEY_FILE = "node_key.pem"


def load_or_create_key(instance: Path) -> Ed25519PrivateKey:
    """The node's Ed25519 private key, created owner-only on first use."""
    path = instance / KEY_FILE
    if path.exists():
        return private_key_from_pem(path.read_bytes())
    key = generate_private_key()
    write_private(path, private_key_to_pem(key))
    return key


def registration(
    *, settings: dict[str, Any], node_slug: str, channels: list[str], key: Ed25519PrivateKey
) -> NodeRegistration:
    """What the node tells the hub about itself: no personal data, only the city's figures."""
    return NodeRegistration(
        node=node_slug,
        city=settings["CITY"],
        country=settings["COUNTRY"],
        population=settings["POPULATION"],
        languages=settings["LANGUAGES"],
        channels=sorted(set(channels)) or [c.value for c in CITIZEN_CHANNELS],
        context=settings["CONTEXT"],
        population_shares=settings["POPULATION_SHARES"],
        public_key=public_key_b64(key),
    )


def get_link(*, db_session: Session) -> FederationLink:
    """The hub link, or NotFound when the node has not enrolled."""
    link = db_session.scalar(sa.select(FederationLink))
    if link is None:
        raise NotFound("this node is not enrolled with a hub: run `carmen node enroll`")
    return link


def save_link(*, db_session: Session, hub_url: str, node_slug: str, node_id: int, k: int) -> None:
    """Remember the hub after a successful enrollment (replacing an earlier one)."""
    db_session.execute(sa.delete(FederationLink))
    db_session.add(
        FederationLink(
            hub_url=hub_url.rstrip("/"),
            node_slug=node_slug,
            node_id=node_id,
            k=k,
            enrolled_at=utcnow(),
        )
    )
    db_session.flush()


def default_slug(settings: dict[str, Any]) -> str:
    """The node's default federation name: country and city, e.g. it-bologna, pl-krakow."""
    return default_node_slug(city=settings["CITY"], country=settings["COUNTRY"])


def enroll_with_hub(
    *,
    db_session: Session,
    settings: Any,
    instance: Path,
    hub_url: str,
    token: str,
    slug: str | None = None,
) -> str:
    """Register this node and its public key with the hub; returns the node's federation name.

    Raises EnrollmentError (the hub refused) or ValueError (the node's settings do not make a
    valid registration).
    """
    from node.services.service import list_active

    key = load_or_create_key(instance)
    channels = sorted({c for s in list_active(db_session=db_session) for c in s.channels})
    registration_ = registration(
        settings=settings, node_slug=slug or default_slug(settings), channels=channels, key=key
    )
    answer = hub_client.enroll(hub_url=hub_url, token=token, registration=registration_)
    save_link(
        db_session=db_session,
        hub_url=hub_url,
        node_slug=answer.node,
        node_id=answer.node_id,
        k=answer.k,
    )
    return answer.node
