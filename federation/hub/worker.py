"""Celery entry point for a hub instance: `celery -A federation.hub.worker worker --beat`."""

from federation.hub.app import create_app
from runtime.celery_app import get_celery

flask_app = create_app()
celery_app = get_celery(flask_app)
