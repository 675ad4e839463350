"""Hub settings: defaults, the instance hub.toml, CARMEN_HUB_* variables, then overrides."""

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from federation.hub.private_files import write_private

INSTANCE_FILE = "hub.toml"
ENV_PREFIX = "CARMEN_HUB_"
INSTANCE_ENV = f"{ENV_PREFIX}INSTANCE"

DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # default: SQLite file hub.db in the instance folder
    "K": 10,  # the federation's suppression threshold, told to every node at enrollment
    "MAX_BODY_BYTES": 4 * 1024 * 1024,  # a request body larger than this is refused with 413
    # The first month a node may deliver when its enrollment token named no pilot start.
    "EARLIEST_PERIOD": "2000-01",
    "MAX_CLOCK_SKEW_SECONDS": 300,
    "NONCE_RETENTION_SECONDS": 3600,  # > 2 x skew: older ones fail the timestamp check
    "ENROLLMENT_TOKEN_TTL_HOURS": 72,
    "API_TOKEN_TTL_DAYS": 90,
    "BROKER_URL": None,  # None runs Celery tasks eagerly, in-process (the embedded default)
    "RESULT_BACKEND": None,
    "TASK_QUEUE": "carmen-hub",  # the hub's own queue, so hubs and nodes can share a broker
    # A stored snapshot schedules a debounced evaluation. None: only with a real broker, since
    # eager tasks would run the whole evaluation inside the node's push request.
    "EVALUATE_ON_INGEST": None,
    "EVALUATION_DEBOUNCE_SECONDS": 60,
    "EVALUATION_SEED": 0,
    "EVALUATION_OPTIONS": {},  # keyword arguments of evaluation.EvaluationConfig
    # A Europe-wide city table (CSV, columns of carmen/data/eu_cities.csv): when set, every run
    # also judges each service in each of its cities (the dashboards' European view).
    "EUROPE_CITIES": None,
}


def _parse_env_value(raw: str) -> Any:
    """Read an environment value as a TOML literal (numbers, booleans, lists), else as text."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


def default_instance_path() -> Path:
    """The instance folder named by CARMEN_HUB_INSTANCE, else ./var/hub."""
    return Path(os.environ.get(INSTANCE_ENV) or "var/hub").resolve()


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
        if key.startswith(ENV_PREFIX) and key != INSTANCE_ENV:
            settings[key.removeprefix(ENV_PREFIX)] = _parse_env_value(raw)
    settings.update(overrides or {})
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{instance_path / 'hub.db'}"
    if settings["EVALUATE_ON_INGEST"] is None:
        settings["EVALUATE_ON_INGEST"] = bool(settings["BROKER_URL"])
    return settings


def write_instance_file(instance_path: Path, values: Mapping[str, Any]) -> Path:
    """Write hub.toml with the given lower-case keys; values are strings, numbers or booleans."""
    lines = [f"{key} = {_toml_literal(value)}" for key, value in values.items()]
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
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
