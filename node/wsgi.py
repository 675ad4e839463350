"""WSGI entry point for gunicorn: the node whose instance folder CARMEN_NODE_INSTANCE names."""

import os
from pathlib import Path

from node.celery_app import serve_in_background
from node.instance import load_services, open_app

# Run with gunicorn --preload so that migrations and the service catalogue load once, before fork.
app = open_app(Path(os.environ.get("CARMEN_NODE_INSTANCE", "var/node")))
load_services(app, refuse_unstaffed=True)
serve_in_background(app)  # without a broker, a click never waits for a mail server
