"""Federation: the cities, their nodes' health, and the services each pilots with provenance."""

from dash import Dash, Input, Output, dcc, html

from dashboards import figures
from dashboards.components import (
    HUB_ERRORS,
    credit,
    current_source,
    grid,
    hub_banner,
    hub_guarded,
    options,
    problem,
    query,
    records,
    table,
)
from dashboards.data import rows_of

PAGE = {"path": "/", "name": "Federation", "title": "Federation · CARMEN", "order": 0}


@hub_guarded
def layout(city: str | None = None, **_: str) -> html.Div:
    """Cities, nodes' health, and (for all cities or one) the services piloted."""
    source = current_source()
    nodes = source.nodes()
    services = source.services()
    health = figures.nodes_table(nodes, services)
    messages = []
    slugs = list(nodes["node"])
    if city and city not in slugs:
        messages.append(problem(f"Unknown city {city!r}: no node of the federation has that name."))
        city = None
    return html.Div(
        [
            dcc.Location(id="federation-url", refresh=False),
            html.H1("Federation"),
            *messages,
            html.P(
                f"{len(nodes)} cities, {nodes['country'].nunique()} countries, "
                f"{len(services)} piloted services.",
                id="federation-summary",
            ),
            dcc.Graph(id="federation-sync", figure=figures.sync_figure(health, services)),
            html.H2("Cities and their nodes"),
            table("federation-nodes", health),
            html.H2("Services piloted and where each came from"),
            html.Label("City", htmlFor="federation-city"),
            dcc.Dropdown(
                id="federation-city",
                options=options(slugs, dict(zip(nodes["node"], nodes["city"], strict=True))),
                value=city,
                placeholder="all cities",
            ),
            html.Div(id="federation-error"),
            table("federation-services", figures.services_table(services)),
            credit(),
        ]
    )


def services_for(city: str | None) -> tuple[list[dict], str, object]:
    """The services table for all cities or one, the URL state, and any banner."""
    try:
        services = current_source().services()
    except HUB_ERRORS as error:
        return [], query(city=city), hub_banner(error)
    if city:
        services = rows_of(services, "node", city)
    return records(figures.services_table(services)), query(city=city), None


def register_callbacks(app: Dash) -> None:
    """The page's callbacks on app."""
    app.callback(
        Output(grid("federation-services"), "rowData"),
        Output("federation-url", "search"),
        Output("federation-error", "children"),
        Input("federation-city", "value"),
    )(services_for)
