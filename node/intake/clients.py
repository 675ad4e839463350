"""Register Open311 client applications and recognise them by their API key."""

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from node.database import utcnow
from node.errors import Forbidden, InvalidInput, NotFound
from node.intake.models import ClientApplication, ClientKind, ClientScope


def hash_key(api_key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def create_client(
    *,
    db_session: Session,
    name: str,
    kind: ClientKind | str = ClientKind.APP,
    scope: ClientScope | str = ClientScope.PUBLIC,
    now: datetime | None = None,
) -> tuple[ClientApplication, str]:
    """Register a client application; return it and its API key, which is not kept anywhere."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("the client application needs a name", {"name": "required"})
    if len(name) > 200:
        raise InvalidInput("the name is longer than 200 characters", {"name": "too long"})
    try:
        kind = ClientKind(kind)
    except ValueError as exc:
        raise InvalidInput(f"kind must be app or web, not {kind!r}", {"kind": "unknown"}) from exc
    api_key = secrets.token_urlsafe(32)
    client = ClientApplication(
        name=name,
        kind=kind,
        scope=_scope(scope),
        key_hash=hash_key(api_key),
        created_at=now or utcnow(),
    )
    db_session.add(client)
    db_session.flush()
    return client, api_key


def _scope(scope: ClientScope | str) -> ClientScope:
    try:
        return ClientScope(scope)
    except ValueError as exc:
        raise InvalidInput(
            f"scope must be public or full, not {scope!r}", {"scope": "unknown"}
        ) from exc


def authenticate(*, db_session: Session, api_key: str | None) -> ClientApplication:
    """The active client application holding this key; Forbidden otherwise."""
    if not api_key:
        raise Forbidden("an api_key is required to submit requests")
    client = db_session.scalar(
        sa.select(ClientApplication).where(ClientApplication.key_hash == hash_key(api_key))
    )
    if client is None or not client.active:
        raise Forbidden("the api_key is not valid for this node")
    return client


def reader(*, db_session: Session, api_key: str | None) -> ClientApplication | None:
    """Who reads through Open311 GET: None without a key; Forbidden for a key that is not valid."""
    if not api_key:
        return None
    return authenticate(db_session=db_session, api_key=api_key)


def list_clients(*, db_session: Session) -> list[ClientApplication]:
    """Every registered client application, revoked ones included, oldest first."""
    return list(db_session.scalars(sa.select(ClientApplication).order_by(ClientApplication.id)))


def _get(db_session: Session, client_id: int) -> ClientApplication:
    client = db_session.get(ClientApplication, client_id)
    if client is None:
        raise NotFound(f"no client application {client_id}")
    return client


def set_scope(
    *, db_session: Session, client_id: int, scope: ClientScope | str
) -> ClientApplication:
    """Change what a client's key reads; the key itself stays the same."""
    client = _get(db_session, client_id)
    client.scope = _scope(scope)
    db_session.flush()
    return client


def deactivate(*, db_session: Session, client_id: int) -> ClientApplication:
    """Revoke a client application's key; its past requests stay as they are."""
    client = _get(db_session, client_id)
    client.active = False
    db_session.flush()
    return client
