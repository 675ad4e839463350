"""Node settings: defaults, then the instance node.toml, then CARMEN_NODE_* variables."""

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from node.private_files import write_private

INSTANCE_FILE = "node.toml"
ENV_PREFIX = "CARMEN_NODE_"

DEFAULTS: dict[str, Any] = {
    "CITY": "Unnamed city",
    "COUNTRY": "EU",
    "POPULATION": 0,
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # default: SQLite file node.db in the instance folder
    "BROKER_URL": None,  # None runs Celery tasks eagerly, in-process
    "LANGUAGES": ["en", "it"],
    "DEFAULT_LANGUAGE": "en",
    "TIMEZONE": "Europe/Brussels",
    "DISTRICTS": [],
    "DEFAULT_COUNTRY_CODE": None,  # region for phone numbers typed without +, e.g. "IT"
    "TRACKING_PREFIX": None,  # default: first two letters of the city
    "MIN_CELL_COUNT": 10,
    "DP_EPSILON": None,  # differential privacy budget per snapshot build; None: no noise
    "DP_MAX_EVENTS_PER_CASE": 6,  # contribution bound of one case in one month
    "SYNC_INTERVAL_SECONDS": 300,
    "SERVICES_DIR": None,  # default: services/ in the instance folder
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Abuse limits on public intake (node/intake/limits.py): None is on, except in TESTING apps.
    "RATELIMIT_ENABLED": None,
    "RATELIMIT_STORAGE_URL": "memory://",  # redis://host:6379/1 to share counters across workers
    "RATELIMITS": {},  # per key kind, e.g. {portal_address = "10/minute;60/hour"}
    # Channels (docs/channels.md). Inbound SMS: the gateway's auth token signs its webhooks; no
    # token, no SMS accepted. SMS_WEBHOOK_URL is the URL the gateway posts to, when a proxy
    # makes it differ from the one the node sees.
    "SMS_AUTH_TOKEN": None,
    "SMS_WEBHOOK_URL": None,
    # Outbound SMS: "log" only writes them to the log; "http" POSTs JSON to SMS_GATEWAY_URL.
    "SMS_GATEWAY": "log",
    "SMS_GATEWAY_URL": None,
    "SMS_GATEWAY_TOKEN": None,
    "SMS_FROM": None,
    # Outbound e-mail: "log" or "smtp".
    "EMAIL_BACKEND": "log",
    "SMTP_HOST": "localhost",
    "SMTP_PORT": 25,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
    "SMTP_TIMEOUT": 10,
    "MAIL_FROM": "no-reply@localhost",
    # Inbound e-mail: the webhook's bearer token (none: webhook off), size limits, folders
    # (default: attachments/ and quarantine/ in the instance folder).
    "EMAIL_WEBHOOK_TOKEN": None,
    "MAIL_MAX_BYTES": 25 * 1024 * 1024,
    "ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
    "ATTACHMENTS_DIR": None,
    "QUARANTINE_DIR": None,
    # Notifications: attempts after the first, and the backoff (seconds, doubled each time).
    "MESSAGING_MAX_RETRIES": 5,
    "MESSAGING_RETRY_BACKOFF": 30,
    "MESSAGING_RETRY_BACKOFF_MAX": 3600,
}


def _parse_env_value(raw: str) -> Any:
    """Read an environment value as a TOML literal (numbers, booleans, lists), else as text."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


def load_settings(
    instance_path: Path, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Merge defaults, the instance file, the environment and explicit overrides, in that order."""
    settings = dict(DEFAULTS)
    toml_file = instance_path / INSTANCE_FILE
    if toml_file.exists():
        with toml_file.open("rb") as handle:
            settings.update({key.upper(): value for key, value in tomllib.load(handle).items()})
    for key, raw in os.environ.items():
        if key.startswith(ENV_PREFIX) and key != f"{ENV_PREFIX}INSTANCE":
            settings[key.removeprefix(ENV_PREFIX)] = _parse_env_value(raw)
    settings.update(overrides or {})
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{instance_path / 'node.db'}"
    if not settings["SERVICES_DIR"]:
        settings["SERVICES_DIR"] = str(instance_path / "services")
    if not settings["TRACKING_PREFIX"]:
        letters = [c for c in str(settings["CITY"]).upper() if c.isascii() and c.isalpha()]
        settings["TRACKING_PREFIX"] = "".join(letters[:2]) or "CA"
    return settings


def write_instance_file(instance_path: Path, values: Mapping[str, Any]) -> Path:
    """Write node.toml with the given lower-case keys; values are strings, numbers or lists."""
    lines = []
    for key, value in values.items():
        lines.append(f"{key} = {_toml_literal(value)}")
    path = instance_path / INSTANCE_FILE
    write_private(path, ("\n".join(lines) + "\n").encode("utf-8"))  # it holds the secret key
    return path


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (
            f"{_toml_literal(str(key))} = {_toml_literal(item)}" for key, item in value.items()
        )
        return "{ " + ", ".join(pairs) + " }"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
