"""Celery entry point for a hub instance: `celery -A federation.hub.worker worker --beat`."""

from federation.hub.app import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
