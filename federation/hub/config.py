"""The hub's settings, each declared once: given values, then CARMEN_HUB_* variables, then the
instance's hub.toml, then these defaults. `carmen hub settings` lists them."""

import os
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from federation.protocol.models import PERIOD_PATTERN
from runtime.settings import SECRET, InstanceSettings

INSTANCE_FILE = "hub.toml"
INSTANCE_ENV = "CARMEN_HUB_INSTANCE"


def default_instance_path() -> Path:
    """The instance folder named by CARMEN_HUB_INSTANCE, else ./var/hub."""
    return Path(os.environ.get(INSTANCE_ENV) or "var/hub").resolve()


class HubSettings(InstanceSettings):
    """Every setting of the federation hub."""

    env_prefix = "CARMEN_HUB_"
    file_name = INSTANCE_FILE
    command = "carmen hub settings"

    secret_key: str | None = Field(
        None, description="Signs sessions; none: a random one per start.", json_schema_extra=SECRET
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file hub.db in the instance."
    )
    k: int = Field(
        10, ge=2, description="The federation's suppression threshold, told to nodes at enrollment."
    )
    max_body_bytes: int = Field(
        4 * 1024 * 1024, gt=0, description="A larger request body is refused with 413."
    )
    earliest_period: str = Field(
        "2000-01",
        pattern=PERIOD_PATTERN,
        description="The first month (YYYY-MM) a node may deliver when its token named no start.",
    )
    max_clock_skew_seconds: int = Field(
        300, gt=0, description="How far a signed request's timestamp may be from the hub's clock."
    )
    nonce_retention_seconds: int = Field(
        3600, gt=0, description="How long nonces are kept (at least twice the skew is used)."
    )
    enrollment_token_ttl_hours: int = Field(
        72, gt=0, description="Lifetime of an enrollment token from `carmen hub enroll`."
    )
    api_token_ttl_days: int = Field(90, gt=0, description="Lifetime of a read API token.")
    broker_url: str | None = Field(
        None, description="Celery broker, e.g. redis://host:6379/0; none: tasks run in-process."
    )
    result_backend: str | None = Field(None, description="Celery result backend, if any.")
    task_queue: str = Field(
        "carmen-hub", description="The hub's Celery queue, so hubs and nodes can share a broker."
    )
    evaluate_on_ingest: bool | None = Field(
        None, description="A stored snapshot schedules an evaluation; none: only with a broker."
    )
    evaluation_debounce_seconds: int = Field(
        60, ge=0, description="How long an evaluation asked for by ingest waits for more pushes."
    )
    evaluation_seed: int = Field(0, description="Random seed of evaluation runs.")
    evaluation_options: dict[str, Any] = Field(
        {}, description="Keyword arguments of evaluation.EvaluationConfig."
    )
    evaluation_costs: dict[str, dict[str, Any]] = Field(
        {},
        description=(
            "The federation's cost figures, replacing the service templates' [cost] tables: "
            "per service (or 'default'), e.g. {default = {monthly = 2000}}."
        ),
    )
    europe_cities: Path | None = Field(
        None, description="A Europe-wide city table (CSV) every run also judges each service in."
    )

    @model_validator(mode="after")
    def _instance_defaults(self) -> "HubSettings":
        self.database_url = self.database_url or f"sqlite:///{self.instance_path / 'hub.db'}"
        if self.evaluate_on_ingest is None:
            # Eager tasks would run the whole evaluation inside the node's push request.
            self.evaluate_on_ingest = bool(self.broker_url)
        return self
