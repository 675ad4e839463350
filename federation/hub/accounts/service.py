"""Hub users and API tokens: create, authenticate, issue and check tokens."""

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from federation.hub.accounts.models import ApiToken, Role, User
from federation.hub.errors import Conflict, HubError, NotFound, Unauthenticated

TOKEN_PREFIX = "chub_"
MAX_PASSWORD = 1024
_hasher = PasswordHasher()


def token_digest(token: str) -> str:
    """SHA-256 of a token: tokens are long and random, so a fast hash is enough to store them."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(
    *, db_session: Session, username: str, role: Role, password: str | None = None
) -> tuple[User, str]:
    """Create a user and return it with its password (a generated one when none is given)."""
    username = username.strip()
    if not username or len(username) > 64:
        raise HubError("a username has 1 to 64 characters")
    if db_session.scalar(sa.select(User).where(User.username == username)) is not None:
        raise Conflict(f"the user {username!r} exists already")
    password = _checked_password(password)
    user = User(username=username, password_hash=_hasher.hash(password), role=Role(role).value)
    db_session.add(user)
    db_session.flush()
    return user, password


def _checked_password(password: str | None) -> str:
    """The password given (8 to 1024 characters), or a generated one."""
    password = password or secrets.token_urlsafe(12)
    if not 8 <= len(password) <= MAX_PASSWORD:
        raise HubError(f"a password has 8 to {MAX_PASSWORD} characters")
    return password


def list_users(*, db_session: Session) -> list[User]:
    """Every user, by name."""
    return list(db_session.scalars(sa.select(User).order_by(User.username)))


def set_password(
    *, db_session: Session, username: str, password: str | None, now: datetime
) -> tuple[User, str, int]:
    """Change a user's password (a generated one when none is given) and revoke the user's
    tokens, which were issued under the old one; returns the user, the password and the number
    of tokens revoked."""
    user = get_user(db_session=db_session, username=username)
    password = _checked_password(password)
    user.password_hash = _hasher.hash(password)
    return user, password, revoke_tokens(db_session=db_session, user=user, now=now)


def set_active(*, db_session: Session, username: str, active: bool, now: datetime) -> User:
    """Disable an account (its tokens are revoked: they stop working at once, and stay revoked
    when it is enabled again) or enable it."""
    user = get_user(db_session=db_session, username=username)
    if not active and user.active and user.role == Role.ADMIN.value:
        others = db_session.scalar(
            sa.select(sa.func.count())
            .select_from(User)
            .where(User.active, User.role == Role.ADMIN.value, User.id != user.id)
        )
        if not others:
            raise Conflict(f"{username!r} is the only active admin; make another admin first")
    user.active = active
    if not active:
        revoke_tokens(db_session=db_session, user=user, now=now)
    return user


def list_tokens(*, db_session: Session, username: str | None = None) -> list[tuple[ApiToken, str]]:
    """API tokens (never their value) with their user's name, newest first."""
    query = sa.select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if username is not None:
        query = query.where(User.username == username)
    return [(token, name) for token, name in db_session.execute(query.order_by(ApiToken.id.desc()))]


def revoke_token(
    *, db_session: Session, now: datetime, token_id: int | None = None, token: str | None = None
) -> ApiToken:
    """Revoke one API token, named by its id or by its value; it stops working at once."""
    if token is not None:
        record = db_session.scalar(
            sa.select(ApiToken).where(ApiToken.token_hash == token_digest(token))
        )
    else:
        record = db_session.get(ApiToken, token_id) if token_id is not None else None
    if record is None:
        raise NotFound("no such API token")
    if record.revoked_at is None:
        record.revoked_at = now
    return record


def revoke_tokens(*, db_session: Session, user: User, now: datetime) -> int:
    """Revoke every live token of a user; returns how many were revoked."""
    result = db_session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount or 0


def get_user(*, db_session: Session, username: str) -> User:
    """The user with this name."""
    user = db_session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def authenticate(*, db_session: Session, username: str, password: str) -> User:
    """The active user with this name and password; one message for every failure."""
    user = db_session.scalar(sa.select(User).where(User.username == username))
    failure = Unauthenticated("unknown user or wrong password")
    if user is None or not user.active:
        _hasher.hash(password)  # spend the same time as a real check, so names cannot be probed
        raise failure
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise failure from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def create_api_token(
    *, db_session: Session, user: User, name: str, now: datetime, ttl_days: int | None
) -> tuple[str, ApiToken]:
    """Issue a read-API token for a user; the plain token is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=user.id,
        token_hash=token_digest(plain),
        name=name[:100] or "api",
        created_at=now,
        expires_at=now + timedelta(days=ttl_days) if ttl_days else None,
    )
    db_session.add(record)
    db_session.flush()
    return plain, record


def user_for_token(*, db_session: Session, token: str, now: datetime) -> User:
    """The active user a valid, unexpired, unrevoked token belongs to."""
    record = db_session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == token_digest(token))
    )
    if record is None or record.revoked_at is not None:
        raise Unauthenticated("unknown or revoked API token")
    if record.expires_at is not None and record.expires_at <= now:
        raise Unauthenticated("this API token has expired")
    user = db_session.get(User, record.user_id)
    if user is None or not user.active:
        raise Unauthenticated("the user of this API token is no longer active")
    record.last_used_at = now
    return user
