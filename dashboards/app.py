"""The coordinators' Dash app: one file per page, reading the hub's HTTP read API."""

import secrets
from pathlib import Path

import dash
from dash import Dash, dcc, html

from dashboards.client import HubClient
from dashboards.components import EXTENSION, DashboardContext, register_table_export, relative
from dashboards.data import DataSource
from dashboards.pages import (
    federation,
    login,
    logout,
    profiles,
    replication,
    services,
    validation,
)

ASSETS = Path(__file__).parent / "assets"
PAGES = (federation, services, profiles, replication, validation, login, logout)


class OfflineDash(Dash):
    """Dash with nothing that points outside the app: the page works with no internet."""

    def _config(self) -> dict:
        config = super()._config()
        # Only dev tools use it (to look for a newer Dash); an offline page names no other host.
        config["dash_version_url"] = ""
        config["disable_version_check"] = True
        return config


def create_dashboard(
    hub_url: str,
    token: str | None = None,
    *,
    requests_pathname_prefix: str = "/",
    secret_key: str | None = None,
    source: DataSource | None = None,
    client: HubClient | None = None,
) -> Dash:
    """Build the dashboard for the hub at hub_url.

    With a token every visitor reads as that token's user; without one, coordinators log in
    with their hub account. `source` replaces the hub with given frames (benchmarks).
    """
    app = OfflineDash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        routes_pathname_prefix="/",
        requests_pathname_prefix=requests_pathname_prefix,
        suppress_callback_exceptions=True,
        serve_locally=True,
        title="CARMEN federation: coordinators' dashboards",
        update_title=None,
    )
    app.server.secret_key = secret_key or secrets.token_hex(32)
    app.server.config["SESSION_COOKIE_NAME"] = "carmen_dashboard"
    app.server.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.server.config["SESSION_COOKIE_HTTPONLY"] = True
    app.server.extensions[EXTENSION] = DashboardContext(
        hub_url=hub_url, client=client or HubClient(hub_url), token=token, source=source
    )
    for page in PAGES:
        dash.register_page(page.__name__, layout=page.layout, **page.PAGE)
        page.register_callbacks(app)
    register_table_export(app)
    app.layout = _layout
    return app


def _layout() -> html.Div:
    links = [
        dcc.Link(page.PAGE["name"], href=relative(page.PAGE["path"]), className="nav-link")
        for page in PAGES
        if page.PAGE.get("nav", True)
    ]
    return html.Div(
        [
            html.Header(
                [html.Span("CARMEN federation", className="brand"), html.Nav(links)],
                className="topbar",
            ),
            html.Main(dash.page_container, className="content"),
        ]
    )
