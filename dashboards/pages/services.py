"""Services: a service x city heatmap of a KPI, and one service's months, channels and reach."""

import pandas as pd
from dash import Dash, Input, Output, dcc, html

from dashboards import figures
from dashboards.components import (
    HUB_ERRORS,
    columns,
    control,
    credit,
    current_source,
    evaluation_table,
    grid,
    hub_banner,
    hub_guarded,
    options,
    problem,
    query,
    records,
    table,
)
from dashboards.data import derived, distinct, rows_of

PAGE = {"path": "/services", "name": "Services", "title": "Services · CARMEN", "order": 1}
KPIS = list(figures.KPI_LABELS)


def _kpis() -> pd.DataFrame:
    return evaluation_table("kpis", what="the KPIs")


@hub_guarded
def layout(
    service: str | None = None, city: str | None = None, kpi: str | None = None, **_: str
) -> html.Div:
    """Controls from the address (service, city, kpi), checked against the evaluation."""
    kpis = _kpis()
    services = distinct(kpis, "service")
    cities = distinct(kpis, "city_id")
    messages = []
    if service and service not in services:
        messages.append(problem(f"Unknown service {service!r}: no city pilots it."))
        service = None
    if city and city not in cities:
        messages.append(problem(f"Unknown city {city!r}: no node of the federation has that name."))
        city = None
    if kpi and kpi not in KPIS:
        messages.append(problem(f"Unknown KPI {kpi!r}; showing uptake."))
        kpi = None
    return html.Div(
        [
            dcc.Location(id="services-url", refresh=False),
            html.H1("Services"),
            *messages,
            html.Div(
                [
                    control(
                        "KPI",
                        "services-kpi",
                        options=options(KPIS, figures.KPI_LABELS),
                        value=kpi or "uptake",
                        clearable=False,
                    ),
                    control(
                        "Service",
                        "services-service",
                        options=options(services),
                        value=service or services[0],
                        clearable=False,
                    ),
                    control(
                        "City",
                        "services-city",
                        options=options(cities),
                        value=city,
                        placeholder="all cities",
                    ),
                ],
                className="controls",
            ),
            html.Div(id="services-error"),
            dcc.Graph(id="services-heatmap"),
            html.Div(
                [dcc.Graph(id="services-series"), dcc.Graph(id="services-channels")],
                className="row",
            ),
            dcc.Graph(id="services-reach"),
            html.H2("The KPI over each whole pilot", id="services-table-title"),
            table("services-table", pd.DataFrame()),
            html.P(
                "Bands are 90% intervals; uptake is per 1,000 inhabitants (population figures "
                "from Eurostat).",
                className="note",
            ),
            credit(),
        ]
    )


def heatmap(kpi: str) -> object:
    """The service x city heatmap of one KPI."""
    try:
        pilots = derived(_kpis(), "pilot", figures.pilot_kpis)
        # The same figure for every visitor until the hub's answer changes.
        return derived(pilots, f"heatmap:{kpi}", lambda f: figures.kpi_heatmap(f, kpi))
    except HUB_ERRORS:
        return figures.kpi_heatmap(pd.DataFrame(columns=["period"]), kpi)


def service_view(kpi: str, service: str, city: str | None) -> tuple:
    """One service's monthly series, channel mix, reach, table and the address's state."""
    search = query(service=service, city=city, kpi=kpi)
    try:
        source = current_source()
        kpis = rows_of(_kpis(), "service", service)
        submitted = source.cells(service, "submitted")
        citizens = source.cells(service, "citizens")
        nodes = source.nodes()
    except HUB_ERRORS as error:
        empty = figures.kpi_series(
            pd.DataFrame(columns=["period", "service"]), service="", kpi=kpi, city=None
        )
        return empty, empty, empty, [], [], search, hub_banner(error)
    rows = figures.pilot_kpis(kpis)
    rows = rows[["city_id", kpi, f"{kpi}_low", f"{kpi}_high"]]
    rows = rows.sort_values(kpi, ascending=False).round(3)
    return (
        figures.kpi_series(kpis, service=service, kpi=kpi, city=city),
        figures.channel_mix(
            submitted,
            city=city,
            # Per city from an index of the cells, for all cities summed once per hub answer.
            totals=figures.channel_totals(rows_of(submitted, "node", city))
            if city
            else derived(submitted, "channel_totals", figures.channel_totals),
        ),
        figures.segment_reach(
            rows_of(citizens, "node", city) if city else citizens, nodes, city=city
        ),
        records(rows),
        columns(rows),
        search,
        None,
    )


def register_callbacks(app: Dash) -> None:
    """The page's callbacks on app."""
    app.callback(Output("services-heatmap", "figure"), Input("services-kpi", "value"))(heatmap)
    app.callback(
        Output("services-series", "figure"),
        Output("services-channels", "figure"),
        Output("services-reach", "figure"),
        Output(grid("services-table"), "rowData"),
        Output(grid("services-table"), "columnDefs"),
        Output("services-url", "search"),
        Output("services-error", "children"),
        Input("services-kpi", "value"),
        Input("services-service", "value"),
        Input("services-city", "value"),
    )(service_view)
