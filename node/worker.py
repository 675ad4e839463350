"""Celery entry point for a node's worker and beat: `celery -A node.worker worker --beat`."""

import os
from pathlib import Path

from node.instance import open_app
from runtime.celery_app import get_celery

flask_app = open_app(Path(os.environ.get("CARMEN_NODE_INSTANCE", "var/node")))
celery = get_celery(flask_app)
