"""The federation hub: ingests signed snapshots, stores aggregates, serves the read API."""

from federation.hub.app import create_app

__all__ = ["create_app"]
