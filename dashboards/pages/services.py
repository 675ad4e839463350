"""Services: a service x city heatmap of a KPI, and one service's months, channels and reach."""

import pandas as pd
from dash import Dash, Input, Output, dcc, html

from dashboards import components as ui
from dashboards import figures
from dashboards.data import derived, distinct, rows_of

PAGE = {"path": "/services", "name": "Services", "title": "Services · CARMEN", "order": 1}
KPIS = list(figures.KPI_LABELS)


def _kpis() -> pd.DataFrame:
    return ui.evaluation_table("kpis", what="the KPIs")


@ui.hub_guarded
def layout(
    service: str | None = None, city: str | None = None, kpi: str | None = None, **_: str
) -> html.Div:
    """Controls from the address (service, city, kpi), checked against the evaluation."""
    kpis = _kpis()
    services = distinct(kpis, "service")
    cities = distinct(kpis, "city_id")
    check = ui.AddressCheck()
    service, city, kpi = (
        check.service(service, services),
        check.city(city, cities),
        check.kpi(kpi, KPIS),
    )
    return html.Div(
        [
            dcc.Location(id="services-url", refresh=False),
            html.H1("Services"),
            *check.messages,
            html.Div(
                [
                    ui.choice(
                        "KPI", "services-kpi", KPIS, kpi or "uptake", labels=figures.KPI_LABELS
                    ),
                    ui.choice("Service", "services-service", services, service),
                    ui.choice("City", "services-city", cities, city, optional="all cities"),
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
            ui.table("services-table", pd.DataFrame()),
            html.P(
                "Bands are 90% intervals; uptake is per 1,000 inhabitants (population figures "
                "from Eurostat).",
                className="note",
            ),
            ui.credit(),
        ]
    )


def heatmap(kpi: str) -> object:
    """The service x city heatmap of one KPI."""
    try:
        pilots = derived(_kpis(), "pilot", figures.pilot_kpis)
        # The same figure for every visitor until the hub's answer changes.
        return derived(pilots, f"heatmap:{kpi}", lambda f: figures.kpi_heatmap(f, kpi))
    except ui.HUB_ERRORS:
        return figures.kpi_heatmap(pd.DataFrame(columns=["period"]), kpi)


def service_view(kpi: str, service: str, city: str | None) -> tuple:
    """One service's monthly series, channel mix, reach, table and the address's state."""
    search = ui.query(service=service, city=city, kpi=kpi)
    try:
        source = ui.current_source()
        kpis = rows_of(_kpis(), "service", service)
        submitted = source.cells(service, "submitted")
        citizens = source.cells(service, "citizens")
        nodes = source.nodes()
    except ui.HUB_ERRORS as error:
        empty = figures.kpi_series(
            pd.DataFrame(columns=["period", "service"]), service="", kpi=kpi, city=None
        )
        return empty, empty, empty, [], [], search, ui.hub_banner(error)
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
        ui.records(rows),
        ui.columns(rows),
        search,
        None,
    )


def register_callbacks(app: Dash) -> None:
    """The page's callbacks on app."""
    app.callback(Output("services-heatmap", "figure"), Input("services-kpi", "value"))(heatmap)
    app.callback(
        *ui.outputs(
            "services-series",
            "services-channels",
            "services-reach",
            tables=("services-table",),
            state="services",
        ),
        Input("services-kpi", "value"),
        Input("services-service", "value"),
        Input("services-city", "value"),
    )(service_view)
