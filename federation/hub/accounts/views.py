"""Accounts API: exchange a password for an API token, and say who a token belongs to."""

from flask import Blueprint, current_app

from federation.hub.accounts import service
from federation.hub.accounts.schemas import LoginRequest, TokenOut, UserOut
from federation.hub.auth import current_user, require_token
from federation.hub.bodies import parse_json_body
from federation.hub.database import db_session, utcnow

bp = Blueprint("accounts", __name__, url_prefix="/api/v1/auth")


@bp.post("/tokens")
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


@bp.get("/me")
@require_token()
def me():
    """The user the presented token belongs to."""
    user = current_user()
    return UserOut(username=user.username, role=user.role).model_dump(mode="json")
