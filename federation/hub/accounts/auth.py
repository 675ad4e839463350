"""Bearer-token authentication for the read API."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request

from federation.hub.accounts import service as accounts
from federation.hub.accounts.models import Role, User
from federation.hub.database import db_session, utcnow
from federation.hub.errors import Forbidden, Unauthenticated


def current_user() -> User:
    """The user whose API token authenticated this request."""
    return g.hub_user


def require_token(role: Role | None = None) -> Callable:
    """Decorate a view so that it needs `Authorization: Bearer <token>` (and a role if given)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated(
                    "this endpoint needs an API token: Authorization: Bearer <token>"
                )
            session = db_session()
            user = accounts.user_for_token(db_session=session, token=token.strip(), now=utcnow())
            if role is not None and user.role != role.value:
                raise Forbidden(f"this endpoint needs the {role.value} role")
            session.commit()  # keeps the token's last use
            g.hub_user = user
            return view(*args, **kwargs)

        return wrapped

    return decorator
