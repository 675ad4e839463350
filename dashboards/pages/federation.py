"""Federation: the cities, their nodes' health, and the services each pilots with provenance."""

from dash import Dash, Input, Output, dcc, html

from dashboards import components as ui
from dashboards import figures
from dashboards.data import rows_of

PAGE = {"path": "/", "name": "Federation", "title": "Federation · CARMEN", "order": 0}


@ui.hub_guarded
def layout(city: str | None = None, **_: str) -> html.Div:
    """Cities, nodes' health, and (for all cities or one) the services piloted."""
    source = ui.current_source()
    nodes = source.nodes()
    services = source.services()
    health = figures.nodes_table(nodes, services)
    slugs = list(nodes["node"])
    check = ui.AddressCheck()
    city = check.city(city, slugs)
    return html.Div(
        [
            dcc.Location(id="federation-url", refresh=False),
            html.H1("Federation"),
            *check.messages,
            html.P(
                f"{len(nodes)} cities, {nodes['country'].nunique()} countries, "
                f"{len(services)} piloted services.",
                id="federation-summary",
            ),
            dcc.Graph(id="federation-sync", figure=figures.sync_figure(health, services)),
            html.H2("Cities and their nodes"),
            ui.table("federation-nodes", health),
            html.H2("Services piloted and where each came from"),
            ui.choice(
                "City",
                "federation-city",
                slugs,
                city,
                labels=dict(zip(nodes["node"], nodes["city"], strict=True)),
                optional="all cities",
            ),
            html.Div(id="federation-error"),
            ui.table("federation-services", figures.services_table(services)),
            ui.credit(),
        ]
    )


def services_for(city: str | None) -> tuple[list[dict], str, object]:
    """The services table for all cities or one, the URL state, and any banner."""
    try:
        services = ui.current_source().services()
    except ui.HUB_ERRORS as error:
        return [], ui.query(city=city), ui.hub_banner(error)
    if city:
        services = rows_of(services, "node", city)
    return ui.records(figures.services_table(services)), ui.query(city=city), None


def register_callbacks(app: Dash) -> None:
    """The page's callbacks on app."""
    app.callback(
        Output(ui.grid("federation-services"), "rowData"),
        *ui.outputs(state="federation"),
        Input("federation-city", "value"),
    )(services_for)
