"""Who is signed in: staff in the back office, citizens on the portal, through one flask-login.

The session keeps "staff:<id>:<version>" or "citizen:<id>:<version>", so one loader serves both
kinds of account and one kind can never be mistaken for the other. The version is the account's
session version: signing out, a new password and disabling bump it, and every session signed in
with the old one ends, wherever it is. The domains that hold the accounts (staff,
profiles) sit above this module: the app factory hands it one loader per kind.
"""

import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin, UserMixin, current_user

from node.errors import NotFound
from node.extensions import login_manager

LOADERS = "carmen.node.auth.loaders"
KINDS = ("staff", "citizen")
# An account by its id, or None when it may not sign in (disabled, erased).
Loader = Callable[[int], Any]


class Principal(UserMixin):
    """A signed-in staff member or citizen."""

    def __init__(self, *, staff: Any = None, citizen: Any = None) -> None:
        self.staff = staff
        self.citizen = citizen

    @property
    def is_staff(self) -> bool:
        """Whether a staff member is signed in."""
        return self.staff is not None

    @property
    def is_citizen(self) -> bool:
        """Whether a citizen is signed in."""
        return self.citizen is not None

    @property
    def account(self) -> Any:
        """The StaffUser or Citizen signed in."""
        return self.staff if self.staff is not None else self.citizen

    def get_id(self) -> str:
        """The id kept in the session, e.g. "staff:1:3" or "citizen:5:1"."""
        kind = "staff" if self.staff is not None else "citizen"
        return f"{kind}:{self.account.id}:{self.account.session_version}"


class Anonymous(AnonymousUserMixin):
    """Nobody signed in."""

    staff = None
    citizen = None
    is_staff = False
    is_citizen = False


def load_principal(user_id: str) -> Principal | None:
    """Read the session's id back into an account; disabled or erased accounts, and sessions
    of an earlier session version, sign out."""
    kind, _, rest = user_id.partition(":")
    raw, _, version = rest.partition(":")
    loader = current_app.extensions[LOADERS].get(kind)
    if loader is None or not raw.isdigit() or not version.isdigit() or len(raw) > 18:
        return None
    try:
        account = loader(int(raw))
    except NotFound:
        return None
    if account is None or account.session_version != int(version):
        return None
    return Principal(**{kind: account})


def end_sessions(account: Any) -> None:
    """End every session of a staff member or citizen (the caller commits)."""
    account.session_version = (account.session_version or 1) + 1


def current_staff() -> Any:
    """The signed-in staff member (a StaffUser), if any."""
    return current_user.staff if current_user.is_authenticated else None


def current_citizen() -> Any:
    """The signed-in citizen (a Citizen), if any."""
    return current_user.citizen if current_user.is_authenticated else None


def here() -> str:
    """This page's path as the browser asked for it: under a city's prefix in ASP mode."""
    return request.script_root + request.full_path.removesuffix("?")


def safe_next(target: str | None, fallback: str) -> str:
    """A redirect target on this site only, so a crafted link cannot send people elsewhere.

    Targets are paths as the browser sees them (`here()`, `url_for`), the city's prefix
    included in ASP mode.
    """
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and "\\" not in target:
            return target
    return fallback


def staff_required(*roles: StrEnum) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let only signed-in staff in, and only with one of the roles when roles are given."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_staff()
            if user is None:
                flash(_l("Please sign in to the back office."), "info")
                return redirect(url_for("office.login", next=here()))
            if roles and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def citizen_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let only a signed-in citizen in."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_citizen() is None:
            flash(_l("Please sign in to your account."), "info")
            return redirect(url_for("account.login", next=here()))
        return view(*args, **kwargs)

    return wrapped


# Pages about people: never kept by a browser's or a proxy's cache.
PRIVATE_PREFIXES = ("/office", "/account")


_CSP_HOST = re.compile(r"(\{s\}\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")


def origin_of(url: str | None) -> str | None:
    """The http(s) origin of a URL, as a CSP source, or None."""
    parts = urlsplit(url or "")
    # Only a plain host and port: anything else in a sender's URL could write into the policy.
    host = parts.netloc.rpartition("@")[2]
    if parts.scheme not in ("http", "https") or not _CSP_HOST.fullmatch(host):
        return None
    return f"{parts.scheme}://{host.lower()}"


def content_security_policy(images: tuple[str, ...] = ()) -> str:
    """Scripts, styles and frames from the node only; images also from the map's tile server,
    and from the `images` origins a page shows pictures of (a photo an app sent by link)."""
    sources = [origin_of(current_app.config.get("MAP_TILE_URL")), *map(origin_of, images)]
    extra = "".join(f" {source}" for source in dict.fromkeys(sources) if source)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{extra}; connect-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


def security_headers(response: Any) -> Any:
    """No framing (clickjacking), no sniffing, a CSP, and no caching of pages about people."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith(PRIVATE_PREFIXES) and not request.path.startswith("/static"):
        headers["Cache-Control"] = "no-store"
    return response


PASSWORD_CHANGE_ALLOWED = {"office.password", "office.logout", "static"}


def init_app(app: Flask, *, loaders: Mapping[str, Loader]) -> None:
    """Attach flask-login with a loader per kind of account, and hold staff with a one-time
    password at the password page."""
    app.extensions[LOADERS] = {kind: loaders[kind] for kind in KINDS}
    login_manager.init_app(app)
    login_manager.anonymous_user = Anonymous
    login_manager.user_loader(load_principal)

    @app.before_request
    def _refuse_nul_bytes() -> Any:
        # No text field holds a NUL, and PostgreSQL refuses one in a string: a 400, not a 500.
        if getattr(app.view_functions.get(request.endpoint or ""), "keeps_nul", False):
            return None
        values = (*request.args.values(), *request.form.values(), request.path)
        if any("\x00" in value for value in values):
            abort(400, description="The request contains a NUL character.")
        return None

    @app.after_request
    def _security_headers(response: Any) -> Any:
        return security_headers(response)

    @app.before_request
    def _force_password_change() -> Any:
        user = current_staff()
        held = user is not None and user.must_change_password
        if held and request.endpoint not in PASSWORD_CHANGE_ALLOWED:
            flash(_l("Choose a new password before you go on."), "warning")
            return redirect(url_for("office.password"))
        return None


def keeps_nul(view: Any) -> Any:
    """Mark a view that drops NUL characters itself: a gateway signs what it sends, and a 400
    would lose the citizen's message."""
    view.keeps_nul = True
    return view
