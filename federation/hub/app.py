"""The hub's Flask application factory."""

import logging
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from federation.hub import celery_app
from federation.hub.bodies import refuse_nul_in_url, too_large
from federation.hub.config import HubSettings, default_instance_path
from federation.hub.errors import HubError
from runtime import database, settings

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a hub app from defaults, INSTANCE_PATH/hub.toml, CARMEN_HUB_* and `config`."""
    given, flask_config = HubSettings.split(config or {})
    instance_path = Path(flask_config.pop("INSTANCE_PATH", None) or default_instance_path())
    app = Flask("federation.hub", instance_path=str(instance_path.resolve()))
    hub_settings = HubSettings.load(instance_path, given)
    if not hub_settings.secret_key:
        log.warning("no SECRET_KEY configured; using a random one (run `carmen hub init`)")
        hub_settings.secret_key = secrets.token_hex(32)
    settings.init_app(app, hub_settings)
    # One byte more than the limit, so that federation.hub.bodies.read_body tells a chunked body
    # over the limit from one that reaches it (gunicorn and the development server).
    app.config.update(flask_config, MAX_CONTENT_LENGTH=hub_settings.max_body_bytes + 1)
    app.json.sort_keys = False

    database.init_app(app, pool_size=10, max_overflow=20)
    celery_app.init_app(app)
    _register_errors(app)
    app.before_request(refuse_nul_in_url)

    from federation.hub.accounts.views import bp as accounts_bp
    from federation.hub.aggregates.views import bp as aggregates_bp
    from federation.hub.evaluations import service as evaluations
    from federation.hub.evaluations.views import bp as evaluations_bp
    from federation.hub.ingest.views import bp as ingest_bp
    from federation.hub.nodes import service as nodes
    from federation.hub.nodes.views import bp as nodes_bp
    from federation.hub.openapi import openapi_document

    nodes.read_warnings_from(evaluations.node_warnings)

    for blueprint in (nodes_bp, ingest_bp, aggregates_bp, accounts_bp, evaluations_bp):
        app.register_blueprint(blueprint)

    document = openapi_document()
    app.add_url_rule("/api/v1/openapi.json", "openapi", lambda: document)
    app.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
    return app


def waitress_options(app: Flask) -> dict[str, int]:
    """waitress settings that keep the hub's body limit: waitress reads a whole body before the
    app sees it, by default up to 1 GiB spooled to disk."""
    limit = app.config["MAX_BODY_BYTES"]
    # waitress refuses a body of max_request_body_size bytes or more, from its Content-Length or
    # as a chunked body arrives; a body it accepts stays in memory (inbuf_overflow), not on disk.
    return {"max_request_body_size": limit + 1, "inbuf_overflow": limit + 1}


def _register_errors(app: Flask) -> None:
    """Every error leaves the hub as JSON with a clear message and the right status."""

    @app.errorhandler(HubError)
    def _hub_error(error: HubError):
        return error.to_dict(), error.status

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_error: RequestEntityTooLarge):
        error = too_large()
        return error.to_dict(), error.status

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return {"error": code, "message": error.description or error.name}, error.code or 500

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unexpected error")
        return {"error": "internal_error", "message": "the hub failed; it has been logged"}, 500
