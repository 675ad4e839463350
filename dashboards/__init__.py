"""Coordinators' dashboards: a Dash app reading the federation hub's HTTP read API."""

from dashboards.app import create_dashboard

__all__ = ["create_dashboard"]
