"""Accounts API: log in for an API token, and (admins) manage accounts and revoke tokens."""

from flask import Blueprint, current_app, request

from federation.hub.accounts import service
from federation.hub.accounts.auth import current_user, require_token
from federation.hub.accounts.models import ApiToken, Role, User
from federation.hub.accounts.schemas import (
    AccountOut,
    LoginRequest,
    PasswordChanged,
    PasswordRequest,
    TokenInfo,
    TokenOut,
    UserOut,
)
from federation.hub.bodies import parse_json_body
from federation.hub.database import db_session, utcnow
from federation.hub.errors import NotFound

bp = Blueprint("accounts", __name__, url_prefix="/api/v1")


@bp.post("/auth/tokens")
def issue_token():
    """Log a user in: the answer carries a new read-API token (dashboards use this)."""
    login = parse_json_body(LoginRequest)
    session = db_session()
    user = service.authenticate(
        db_session=session, username=login.username, password=login.password
    )
    plain, record = service.create_api_token(
        db_session=session,
        user=user,
        name=login.token_name,
        now=utcnow(),
        ttl_days=current_app.config["API_TOKEN_TTL_DAYS"],
    )
    session.commit()
    out = TokenOut(
        token=plain, username=user.username, role=user.role, expires_at=record.expires_at
    )
    return out.model_dump(mode="json"), 201


@bp.get("/auth/me")
@require_token()
def me():
    """The user the presented token belongs to."""
    user = current_user()
    return UserOut(username=user.username, role=user.role).model_dump(mode="json")


@bp.get("/auth/tokens")
@require_token(Role.ADMIN)
def list_tokens():
    """Every API token, or one user's (?username=), without their values (admins)."""
    tokens = service.list_tokens(db_session=db_session(), username=request.args.get("username"))
    return {"tokens": [token_info(record, name).model_dump(mode="json") for record, name in tokens]}


@bp.post("/auth/tokens/<int:token_id>/revoke")
@require_token()
def revoke_token(token_id: int):
    """Revoke an API token: admins any, everyone else their own; it stops working at once."""
    session = db_session()
    user = current_user()
    record = session.get(ApiToken, token_id)
    if record is not None and user.role != Role.ADMIN.value and record.user_id != user.id:
        raise NotFound("no such API token")  # to others, another user's token does not exist
    record = service.revoke_token(db_session=session, token_id=token_id, now=utcnow())
    owner = session.get(User, record.user_id)
    session.commit()
    return token_info(record, owner.username).model_dump(mode="json")


@bp.get("/users")
@require_token(Role.ADMIN)
def list_users():
    """Every hub account (admins)."""
    users = service.list_users(db_session=db_session())
    return {"users": [account_out(user).model_dump(mode="json") for user in users]}


@bp.post("/users/<username>/password")
@require_token(Role.ADMIN)
def change_password(username: str):
    """Set an account's password (generated when the body names none) and revoke its tokens."""
    wanted = parse_json_body(PasswordRequest)
    session = db_session()
    user, password, revoked = service.set_password(
        db_session=session, username=username, password=wanted.password, now=utcnow()
    )
    session.commit()
    shown = password if wanted.password is None else None
    out = PasswordChanged(username=user.username, password=shown, revoked_tokens=revoked)
    return out.model_dump(mode="json")


@bp.post("/users/<username>/disable")
@require_token(Role.ADMIN)
def disable_user(username: str):
    """Disable an account: it cannot log in, and its tokens stop working at once (admins)."""
    return _set_active(username, active=False)


@bp.post("/users/<username>/enable")
@require_token(Role.ADMIN)
def enable_user(username: str):
    """Enable a disabled account again; its old tokens stay revoked: it logs in anew (admins)."""
    return _set_active(username, active=True)


def _set_active(username: str, *, active: bool):
    session = db_session()
    user = service.set_active(db_session=session, username=username, active=active, now=utcnow())
    session.commit()
    return account_out(user).model_dump(mode="json")


def account_out(user: User) -> AccountOut:
    """An account as admins see it."""
    return AccountOut(
        username=user.username, role=user.role, active=user.active, created_at=user.created_at
    )


def token_info(record: ApiToken, username: str) -> TokenInfo:
    """A token as admins see it."""
    return TokenInfo(
        id=record.id,
        username=username,
        name=record.name,
        created_at=record.created_at,
        expires_at=record.expires_at,
        last_used_at=record.last_used_at,
        revoked_at=record.revoked_at,
    )
