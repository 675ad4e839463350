"""Shared pieces of the pages: where the data comes from, banners, credits and CSV tables."""

import json
from dataclasses import dataclass
from urllib.parse import urlencode

import flask
import pandas as pd
from dash import dash_table, html

from dashboards.client import HubClient, HubRefused, HubUnavailable
from dashboards.data import DataSource, HubSource

EXTENSION = "carmen_dashboard"
SESSION_TOKEN = "hub_token"
# The same credit as carmen.cities.ATTRIBUTION (dashboards may not import carmen; a test keeps
# the two equal).
ATTRIBUTION = (
    "City figures: © European Union, Eurostat (CC BY 4.0); "
    "E-Government Development Index: UN DESA E-Government Survey 2018."
)


class NotLoggedIn(Exception):
    """No API token: neither configured nor in the coordinator's session."""


@dataclass
class DashboardContext:
    """What the pages read from: the hub's client and token, or given frames."""

    hub_url: str
    client: HubClient
    token: str | None = None
    source: DataSource | None = None  # given frames (benchmarks) bypass the hub


def context() -> DashboardContext:
    """The context of the dashboard serving this request."""
    return flask.current_app.extensions[EXTENSION]


def current_token() -> str | None:
    """The configured token, else the one the coordinator logged in with."""
    ctx = context()
    return ctx.token or flask.session.get(SESSION_TOKEN)


def current_source() -> DataSource:
    """The data source for this request; NotLoggedIn without a token."""
    ctx = context()
    if ctx.source is not None:
        return ctx.source
    token = current_token()
    if not token:
        raise NotLoggedIn()
    return HubSource(ctx.client, token)


def hub_banner(error: Exception) -> html.Div:
    """A clear banner saying the hub cannot be reached (or refused), never a traceback."""
    if isinstance(error, NotLoggedIn):
        return login_prompt()
    if isinstance(error, LookupError):  # the hub has no such table yet
        return problem(str(error))
    if isinstance(error, HubRefused) and error.status == 401:
        text = f"The hub refused the API token: {error.message}. Log in again."
        return html.Div(
            [text, " ", html.A("Log in", href=relative("/login"))],
            className="banner banner-error",
            id="hub-banner",
            role="alert",
        )
    if isinstance(error, HubUnavailable):
        text = f"The federation hub is unreachable: {error}. The figures will be back when it is."
    else:
        text = f"The hub refused the request: {error}"
    return html.Div(text, className="banner banner-error", id="hub-banner", role="alert")


def login_prompt() -> html.Div:
    """The message shown to a visitor without a token."""
    return html.Div(
        [
            "Coordinators log in with their hub account to see the evaluation. ",
            html.A("Log in", href=relative("/login")),
        ],
        className="banner banner-info",
        id="login-needed",
    )


def problem(message: str) -> html.Div:
    """A clear message about bad input (an unknown service or city in the address)."""
    return html.Div(message, className="banner banner-warning", role="alert")


def credit() -> html.P:
    """Credit for the Eurostat and UN DESA figures a page shows."""
    return html.P(ATTRIBUTION, className="credit")


def relative(path: str) -> str:
    """A path inside the dashboard, under its prefix (e.g. /dashboard/)."""
    import dash

    return dash.get_relative_path(path)


def query(**values: object) -> str:
    """The query string of a page's state (empty values left out)."""
    kept = {k: v for k, v in values.items() if v not in (None, "", [])}
    return "?" + urlencode(kept) if kept else ""


def table(table_id: str, frame: pd.DataFrame, *, page_size: int = 12) -> dash_table.DataTable:
    """A sortable table with an Export button that downloads it as CSV."""
    return dash_table.DataTable(
        id=table_id,
        data=records(frame),
        columns=columns(frame),
        export_format="csv",
        export_headers="display",
        page_size=page_size,
        sort_action="native",
        style_table={"overflowX": "auto"},
        style_cell={
            "fontFamily": "inherit",
            "fontSize": "13px",
            "padding": "4px 8px",
            "textAlign": "left",
        },
        style_header={"fontWeight": "bold"},
    )


def records(frame: pd.DataFrame) -> list[dict]:
    """A frame as the DataTable's rows (NaN becomes empty)."""
    # pandas' JSON writer is C code and turns NaN into null: far quicker than a Python loop.
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def columns(frame: pd.DataFrame) -> list[dict]:
    """A frame's columns as the DataTable's."""
    return [{"name": str(c).replace("_", " "), "id": str(c)} for c in frame.columns]


def options(values: list[str], labels: dict[str, str] | None = None) -> list[dict]:
    """Dropdown options."""
    labels = labels or {}
    return [{"label": labels.get(v, v), "value": v} for v in values]
