"""Abuse limits on public intake: how many requests one client key, phone or address may send.

Every public way in (the portal's request form, Open311 POST requests, the SMS and e-mail
webhooks) calls `check(kind, key)` before it does any work. Over the limit, `check` raises
`RateLimited`, which the app answers in the format the channel's client expects (an Open311
error document, a TwiML reply, a page) with status 429 and a Retry-After header.

The counters live in the `limits` package's storage: in memory by default (one process), or in
Redis when RATELIMIT_STORAGE_URL names it, so that every gunicorn worker shares them.
"""

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from flask import Flask, Response, current_app, g, render_template, request
from flask_babel import gettext as _
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from node.errors import NodeError

EXTENSION = "carmen.node.limits"

# Per kind of key, one or more windows ("5/minute;30/hour"); RATELIMITS in the settings
# overrides any of them. The portal and the e-mail sender are people typing; an Open311 client
# key is a whole app's traffic, so it gets more room than one address calling the API.
DEFAULT_LIMITS: dict[str, str] = {
    "portal_address": "10/minute;60/hour",
    "open311_client": "120/minute;2000/hour",
    "open311_address": "60/minute;600/hour",
    "sms_phone": "6/minute;30/hour",
    "email_sender": "6/minute;30/hour",
    "email_address": "120/minute",
}

# The endpoints limited here, by the key kinds that apply to them; the SMS and e-mail webhooks
# call check() themselves, since only they know the sender.
LIMITED_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "portal.new_request": ("portal_address",),
    "open311.submit": ("open311_client", "open311_address"),
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
    "email_sender": "e-mail sender",
    "email_address": "address",
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

    def check(self, kind: str, key: str) -> None:
        """Count one request from `key`, or raise RateLimited when a window is full."""
        if not self.enabled or not key:
            return
        windows = self.windows.get(kind)
        if windows is None:
            raise KeyError(f"no rate limit kind {kind!r}; known: {', '.join(self.windows)}")
        # Keys are hashed: phone numbers and e-mail addresses are personal data, and the
        # counters may sit in a shared Redis that has no business holding them.
        hashed = hashlib.sha256(key.strip().lower().encode("utf-8")).hexdigest()[:32]
        # Test every window before counting, so a refused request uses up none of them.
        for window in windows:
            if not self.strategy.test(window, kind, hashed):
                reset = self.strategy.get_window_stats(window, kind, hashed).reset_time
                raise RateLimited(kind=kind, retry_after=max(1, math.ceil(reset - time.time())))
        for window in windows:
            self.strategy.hit(window, kind, hashed)

    def reset(self) -> None:
        """Forget every counter (for tests and after changing the limits)."""
        self.strategy.storage.reset()


def build_limiter(config: dict[str, Any]) -> Limiter:
    """A limiter from the settings: RATELIMIT_ENABLED, RATELIMIT_STORAGE_URL and RATELIMITS."""
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
    storage = storage_from_string(config["RATELIMIT_STORAGE_URL"])
    return Limiter(
        enabled=bool(enabled), strategy=MovingWindowRateLimiter(storage), windows=windows
    )


def get_limiter(app: Flask | None = None) -> Limiter:
    """The limiter of the given app, or of the current one."""
    return (app or current_app).extensions[EXTENSION]


def check(kind: str, key: str | None) -> None:
    """Count one request of `kind` from `key` (api_key, phone, address); raise RateLimited."""
    get_limiter().check(kind, key or "")


def remote_address() -> str:
    """The client's address as the WSGI server saw it (set up ProxyFix behind a proxy)."""
    return request.remote_addr or "unknown"


def _limit_public_intake() -> None:
    kinds = LIMITED_ENDPOINTS.get(request.endpoint or "")
    if not kinds or request.method != "POST":
        return
    for kind in kinds:
        if kind == "open311_client":
            # The key as given, valid or not: a flood of wrong keys is limited by address too.
            check(kind, request.values.get("api_key"))
        else:
            check(kind, remote_address())


def twiml_reply(exc: RateLimited) -> Response:
    """The SMS webhook's answer: one message telling the sender when to try again."""
    text = _(
        "You have sent too many messages. Please try again in %(wait)s.",
        wait=_wait_text(exc.retry_after),
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Message>{escape(text)}</Message></Response>"
    )
    return Response(body, status=429, content_type="text/xml; charset=utf-8")


def respond(exc: RateLimited) -> Response:
    """A 429 in the format of the channel that was refused, with its Retry-After header."""
    if exc.kind.startswith("open311"):
        from node.intake.open311.formats import render_errors

        fmt = g.get("open311_format", "json")
        response = render_errors([(429, exc.description)], fmt=fmt, status=429)
    elif exc.kind.startswith("sms"):
        response = twiml_reply(exc)
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
