"""The node's application factory."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from node import database
from node.config import load_settings

DEFAULT_INSTANCE = Path("var") / "node"


def instance_path_from(config: Mapping[str, Any]) -> Path:
    """The instance folder: INSTANCE_PATH, else CARMEN_NODE_INSTANCE, else var/node."""
    raw = config.get("INSTANCE_PATH") or os.environ.get("CARMEN_NODE_INSTANCE") or DEFAULT_INSTANCE
    return Path(raw).resolve()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a node app from defaults, its instance file, the environment and `config`."""
    overrides = dict(config or {})
    instance = instance_path_from(overrides)
    overrides.pop("INSTANCE_PATH", None)
    app = Flask(__name__, instance_path=str(instance))
    app.config.update(load_settings(instance, overrides))
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            f"no secret key for the node in {instance}: run `carmen node init` or set "
            "CARMEN_NODE_SECRET_KEY"
        )
    database.init_app(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "city": app.config["CITY"]}

    return app
