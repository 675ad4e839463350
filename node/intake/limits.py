"""Abuse limits on public intake: how many requests one client key, phone or address may send.

Every public way in (the portal's request form, Open311 POST requests, the SMS and e-mail
webhooks) calls `check(kind, key)` (or `check_all` for several keys at once) before it does any
work. Over the limit, it raises `RateLimited`, which the app answers in the format the
channel's client expects (an Open311 error document, a page) with status 429 and a Retry-After
header. The SMS webhook answers its own refusals: a gateway takes a 429 for a failed webhook
and retries it, so it gets a 200 and a polite reply.

A request counts against its keys only when every one of them lets it through: an Open311 POST
refused for its address does not use up its app's key, so one user cannot lock out every other
user of the app. The counters live in the `limits` package's storage: in the broker's Redis
when BROKER_URL names one (or wherever RATELIMIT_STORAGE_URL says), so that every gunicorn
worker counts one address's requests together; in memory only without a broker.
"""

import hashlib
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, render_template, request
from flask_babel import gettext as _
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from node.errors import NodeError

EXTENSION = "carmen.node.limits"
log = logging.getLogger(__name__)

# Per kind of key, one or more windows ("5/minute;30/hour"); RATELIMITS in the settings
# overrides any of them. The portal and the e-mail sender are people typing; an Open311 client
# key is a whole app's traffic, so it gets more room than one address calling the API.
DEFAULT_LIMITS: dict[str, str] = {
    "portal_address": "10/minute;60/hour",
    "open311_client": "120/minute;2000/hour",
    "open311_address": "60/minute;600/hour",
    "sms_phone": "6/minute;30/hour",
    "sms_notice": "1/hour",  # the polite reply to a number over sms_phone, once per window
    "email_sender": "6/minute;30/hour",
    "email_address": "120/minute",
    # Sign-in, sign-up and password reset: guessing passwords, or mail-bombing an address.
    "login_address": "20/minute;100/hour",
    "login_account": "5/minute;20/hour",
    "signup_address": "5/minute;20/hour",
}

# The endpoints limited here, by the key kinds that apply to them; the SMS and e-mail webhooks
# call check() themselves, since only they know the sender.
LIMITED_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "portal.new_request": ("portal_address",),
    "open311.submit": ("open311_address", "open311_client"),
    # The address first, then the account typed: a flood from one address does not lock out
    # the account's owner elsewhere before the address is refused.
    "office.login": ("login_address", "login_account"),
    "account.login": ("login_address", "login_account"),
    "account.reset": ("signup_address", "login_account"),
    "office.reset": ("signup_address", "login_account"),
    "account.signup": ("signup_address",),
}


class RateLimited(NodeError, TooManyRequests):
    """Too many requests from one key; `retry_after` says in how many seconds to try again."""

    def __init__(self, *, kind: str, retry_after: int) -> None:
        self.kind = kind
        self.retry_after = retry_after
        message = (
            f"too many requests from this {_KEY_NAMES.get(kind, 'sender')}: "
            f"try again in {_wait_text(retry_after)}"
        )
        NodeError.__init__(self, message)
        TooManyRequests.__init__(self, description=message, retry_after=retry_after)

    def __str__(self) -> str:
        return self.description


_KEY_NAMES = {
    "portal_address": "address",
    "open311_client": "api_key",
    "open311_address": "address",
    "sms_phone": "phone number",
    "sms_notice": "phone number",
    "email_sender": "e-mail sender",
    "email_address": "address",
    "login_address": "address",
    "login_account": "account",
    "signup_address": "address",
}


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


@dataclass
class Limiter:
    """The counters' storage and the windows of each kind of key."""

    enabled: bool
    strategy: MovingWindowRateLimiter
    windows: dict[str, list[RateLimitItem]]
    namespace: str = ""  # one node's counters apart from another's in a shared Redis

    def check(self, kind: str, key: str) -> None:
        """Count one request from `key`, or raise RateLimited when a window is full."""
        self.check_all([(kind, key)])

    def check_all(self, keys: Sequence[tuple[str, str | None]]) -> None:
        """Count one request against every (kind, key), or raise RateLimited for a full window.

        Every window of every key is tested before any is counted, so a request refused by one
        key uses up none of the others. The counts are then taken in the order given, each one
        atomically in the storage, so that workers racing each other never let more requests
        through than a window holds (a race lost at the last key leaves the earlier ones one
        count higher: put the key most likely to refuse first).
        """
        if not self.enabled:
            return
        counted: list[tuple[str, RateLimitItem, str]] = []
        for kind, key in keys:
            if key:
                windows, hashed = self._identity(kind, key)
                counted += [(kind, window, hashed) for window in windows]
        try:
            for kind, window, key in counted:
                if not self.strategy.test(window, self.namespace, kind, key):
                    raise self._refusal(kind, window, key)
            for kind, window, key in counted:
                if not self.strategy.hit(window, self.namespace, kind, key):
                    raise self._refusal(kind, window, key)
        except StorageError as exc:
            # The counters are out of reach: the request goes on rather than being lost, and
            # the log says that nothing is being limited.
            log.error("rate limits not applied: their storage failed: %s", exc.storage_error)

    def _identity(self, kind: str, key: str) -> tuple[list[RateLimitItem], str]:
        windows = self.windows.get(kind)
        if windows is None:
            raise KeyError(f"no rate limit kind {kind!r}; known: {', '.join(self.windows)}")
        # Keys are hashed: phone numbers and e-mail addresses are personal data, and the
        # counters may sit in a shared Redis that has no business holding them.
        return windows, hashlib.sha256(key.strip().lower().encode()).hexdigest()[:32]

    def _refusal(self, kind: str, window: RateLimitItem, key: str) -> RateLimited:
        reset = self.strategy.get_window_stats(window, self.namespace, kind, key).reset_time
        return RateLimited(kind=kind, retry_after=max(1, math.ceil(reset - time.time())))

    def reset(self) -> None:
        """Forget every counter (for tests and after changing the limits)."""
        self.strategy.storage.reset()


def storage_url(config: Mapping[str, Any]) -> str:
    """Where the counters live: RATELIMIT_STORAGE_URL, else the broker's Redis, else memory."""
    if config["RATELIMIT_STORAGE_URL"]:
        return config["RATELIMIT_STORAGE_URL"]
    broker = config["BROKER_URL"] or ""
    scheme, _, rest = broker.partition("://")
    if scheme.lower() in ("redis", "rediss"):
        return broker
    if scheme.lower() == "redis+socket":  # Celery's name for a Redis on a Unix socket
        return f"redis+unix://{rest}"
    if broker:
        log.warning(
            "rate limits are counted in each process: the broker %s is no Redis; set "
            "RATELIMIT_STORAGE_URL to a Redis to share them between workers",
            scheme,
        )
    return "memory://"


def build_limiter(config: Mapping[str, Any]) -> Limiter:
    """A limiter from the settings: RATELIMIT_ENABLED, RATELIMIT_STORAGE_URL (or BROKER_URL)
    and RATELIMITS."""
    enabled = config["RATELIMIT_ENABLED"]
    if enabled is None:
        # Tests send many requests from one test client; they turn limits on when testing them.
        enabled = not config.get("TESTING", False)
    configured = {**DEFAULT_LIMITS, **config["RATELIMITS"]}
    windows: dict[str, list[RateLimitItem]] = {}
    for kind, text in configured.items():
        try:
            windows[kind] = parse_many(text)
        except ValueError as exc:
            raise RuntimeError(
                f"RATELIMITS.{kind} = {text!r} is not a limit like '10/minute;60/hour'"
            ) from exc
    storage = storage_from_string(storage_url(config), wrap_exceptions=True)
    # Nodes sharing one Redis (ASP mode, one broker for several cities) count apart: a node is
    # its database.
    namespace = hashlib.sha256(config["DATABASE_URL"].encode()).hexdigest()[:12]
    return Limiter(
        enabled=bool(enabled),
        strategy=MovingWindowRateLimiter(storage),
        windows=windows,
        namespace=namespace,
    )


def get_limiter(app: Flask | None = None) -> Limiter:
    """The limiter of the given app, or of the current one."""
    return (app or current_app).extensions[EXTENSION]


def check(kind: str, key: str | None) -> None:
    """Count one request of `kind` from `key` (api_key, phone, address); raise RateLimited."""
    get_limiter().check(kind, key or "")


def remote_address() -> str:
    """The client's address: as the WSGI server saw it, or as TRUSTED_PROXY_HOPS proxies said."""
    return request.remote_addr or "unknown"


def _limit_public_intake() -> None:
    kinds = LIMITED_ENDPOINTS.get(request.endpoint or "")
    if not kinds or request.method != "POST":
        return
    # The address first: a request it refuses never reaches the client key's count. The key is
    # taken as given, valid or not, and a flood of wrong keys is limited by its address.
    keys = {
        "open311_client": request.values.get("api_key"),
        "login_account": (request.form.get("email") or "").strip().lower() or None,
    }
    get_limiter().check_all([(kind, keys.get(kind, remote_address())) for kind in kinds])


def respond(exc: RateLimited) -> Response:
    """A 429 in the format of the channel that was refused, with its Retry-After header."""
    if exc.kind.startswith("open311"):
        from node.intake.open311.formats import render_errors

        fmt = g.get("open311_format", "json")
        response = render_errors([(429, exc.description)], fmt=fmt, status=429)
    elif exc.kind.startswith("email") or request.accept_mimetypes.best == "application/json":
        response = current_app.json.response(
            {"error": "Too Many Requests", "message": exc.description}
        )
        response.status_code = 429
    else:
        page = render_template(
            "error.html",
            status=429,
            title=_("Too many requests"),
            message=_(
                "We received many requests from your connection in a short time, so this one "
                "was not sent. Please try again in %(wait)s; nothing you typed was recorded.",
                wait=_wait_text(exc.retry_after),
            ),
        )
        response = Response(page, status=429, content_type="text/html; charset=utf-8")
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def init_app(app: Flask) -> None:
    """Attach the limiter, limit the portal and Open311 submissions, and answer RateLimited."""
    app.extensions[EXTENSION] = build_limiter(app.config)
    app.before_request(_limit_public_intake)
    # Registered on the app for code 429, so it wins over blueprints' catch-all handlers.
    app.register_error_handler(RateLimited, respond)
