"""Shared pieces of the pages: where the data comes from, banners, controls and CSV tables."""

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import dash_ag_grid as dag
import flask
import pandas as pd
from dash import MATCH, Dash, Input, Output, dcc, html

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


# What a page can meet when it reads the hub: each one has its banner (see hub_banner).
HUB_ERRORS = (HubUnavailable, HubRefused, NotLoggedIn, LookupError)


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


def evaluation_table(name: str, *, what: str, empty_ok: bool = False) -> pd.DataFrame:
    """One of the hub's evaluation tables; LookupError, said for people, before the first run."""
    frame = current_source().table(name)
    if frame is None or (frame.empty and not empty_ok):
        raise LookupError(f"The hub has no evaluation yet: {what} appear after the first run.")
    return frame


def hub_guarded(layout: Callable[..., Any]) -> Callable[..., Any]:
    """A page layout that shows the hub's banner (or the login prompt) instead of failing."""

    @functools.wraps(layout)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return layout(*args, **kwargs)
        except HUB_ERRORS as error:
            return hub_banner(error)

    return guarded


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


class AddressCheck:
    """A page's choices from its address, checked against what the hub holds.

    An unknown value is dropped (the page shows its default) with a message saying why, which
    the page shows above its controls (`messages`).
    """

    def __init__(self) -> None:
        self.messages: list[html.Div] = []

    def known(self, value: Any, among: Any, message: str) -> Any:
        """The value if it is among the known ones (or not given), else None with the message."""
        if value is None or value == "":
            return None
        if value in among:
            return value
        self.messages.append(problem(message))
        return None

    def service(self, service: str | None, services: list[str]) -> str | None:
        """A service some city pilots."""
        return self.known(service, services, f"Unknown service {service!r}: no city pilots it.")

    def city(self, city: str | None, cities: list[str]) -> str | None:
        """A city with a node in the federation."""
        message = f"Unknown city {city!r}: no node of the federation has that name."
        return self.known(city, cities, message)

    def kpi(self, kpi: str | None, kpis: list[str]) -> str | None:
        """A KPI the evaluation computes (uptake when unknown)."""
        return self.known(kpi, kpis, f"Unknown KPI {kpi!r}; showing uptake.")


def outputs(*figures: str, tables: tuple[str, ...] = (), state: str | None = None) -> list[Output]:
    """A callback's outputs: figures by graph id, each table's rows and columns, and the page's
    address and message slot (`<state>-url`, `<state>-error`)."""
    found = [Output(graph, "figure") for graph in figures]
    for table_id in tables:
        found += [Output(grid(table_id), "rowData"), Output(grid(table_id), "columnDefs")]
    if state:
        found += [Output(f"{state}-url", "search"), Output(f"{state}-error", "children")]
    return found


def choice(
    label: str,
    dropdown_id: str,
    values: list,
    chosen: Any,
    *,
    labels: dict | None = None,
    optional: str | None = None,
) -> html.Div:
    """A labelled dropdown of values: one always chosen (the first unless given), or, with
    `optional` as its placeholder, possibly none."""
    if optional is None:
        state = {"value": chosen or (values[0] if values else None), "clearable": False}
    else:
        state = {"value": chosen, "placeholder": optional}
    return html.Div(
        [
            html.Label(label, htmlFor=dropdown_id),
            dcc.Dropdown(id=dropdown_id, options=options(values, labels), **state),
        ]
    )


def grid(table_id: str) -> dict[str, str]:
    """The id of a table's grid, for the callbacks that fill it (rowData, columnDefs)."""
    return {"role": "grid", "table": table_id}


def table(table_id: str, frame: pd.DataFrame, *, page_size: int = 12) -> html.Div:
    """A sortable table with an Export button that downloads it, every row, as CSV."""
    return html.Div(
        [
            html.Button(
                "Export", id={"role": "export", "table": table_id}, className="export", n_clicks=0
            ),
            dag.AgGrid(
                id=grid(table_id),
                rowData=records(frame),
                columnDefs=columns(frame),
                defaultColDef={"sortable": True, "resizable": True},
                columnSize="autoSize",
                csvExportParams={"fileName": f"{table_id}.csv"},
                dashGridOptions={
                    "pagination": True,
                    "paginationPageSize": page_size,
                    "paginationPageSizeSelector": False,
                    "domLayout": "autoHeight",
                    # Every column in the page, so reading (and searching) it finds them all.
                    "suppressColumnVirtualisation": True,
                    "suppressFieldDotNotation": True,
                },
                style={"height": None},
            ),
        ],
        id=table_id,
        className="data-table",
    )


def register_table_export(app: Dash) -> None:
    """One callback for every table's Export button: the grid writes its CSV in the browser."""
    app.clientside_callback(
        "function (clicks) { return clicks > 0; }",
        Output({"role": "grid", "table": MATCH}, "exportDataAsCsv"),
        Input({"role": "export", "table": MATCH}, "n_clicks"),
        prevent_initial_call=True,
    )


def records(frame: pd.DataFrame) -> list[dict]:
    """A frame as a table's rows (NaN becomes empty)."""
    # pandas' JSON writer is C code and turns NaN into null: far quicker than a Python loop.
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def columns(frame: pd.DataFrame) -> list[dict]:
    """A frame's columns as a table's, headed by their names in words."""
    return [{"field": str(c), "headerName": str(c).replace("_", " ")} for c in frame.columns]


def options(values: list[str], labels: dict[str, str] | None = None) -> list[dict]:
    """Dropdown options."""
    labels = labels or {}
    return [{"label": labels.get(v, v), "value": v} for v in values]
