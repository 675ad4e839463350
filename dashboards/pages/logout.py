"""Log out: forget the hub token kept in the coordinator's session."""

import flask
from dash import Dash, html

from dashboards.components import SESSION_TOKEN, relative

PAGE = {"path": "/logout", "name": "Log out", "title": "Log out · CARMEN", "order": 10}


def layout(**_: str) -> html.Div:
    """Drop the session's token (the hub's token itself stays valid until it expires)."""
    flask.session.pop(SESSION_TOKEN, None)
    return html.Div(
        [
            html.H1("Logged out"),
            html.P(["You are logged out. ", html.A("Log in again", href=relative("/login"))]),
        ],
        id="logged-out",
    )


def register_callbacks(app: Dash) -> None:
    """The page has no callbacks."""
