"""Validation phase: the 18-month pilot timeline per city and service, and KPIs by phase."""

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

PAGE = {
    "path": "/validation",
    "name": "Validation phase",
    "title": "Validation phase · CARMEN",
    "order": 4,
}
KPIS = list(figures.KPI_LABELS)


def _kpis() -> pd.DataFrame:
    return evaluation_table("kpis", what="the KPIs")


@hub_guarded
def layout(service: str | None = None, kpi: str | None = None, **_: str) -> html.Div:
    """A service and KPI from the address (?service=&kpi=)."""
    kpis = _kpis()
    services = distinct(kpis, "service")
    messages = []
    if service and service not in services:
        messages.append(problem(f"Unknown service {service!r}: no city pilots it."))
        service = None
    if kpi and kpi not in KPIS:
        messages.append(problem(f"Unknown KPI {kpi!r}; showing uptake."))
        kpi = None
    return html.Div(
        [
            dcc.Location(id="validation-url", refresh=False),
            html.H1("Validation phase"),
            *messages,
            html.P(
                "Each pilot's months from its first: months 1-6, 7-12 and 13-18 of the "
                "market-validation phase.",
                className="note",
            ),
            html.Div(
                [
                    control(
                        "Service",
                        "validation-service",
                        options=options(services),
                        value=service or services[0],
                        clearable=False,
                    ),
                    control(
                        "KPI",
                        "validation-kpi",
                        options=options(KPIS, figures.KPI_LABELS),
                        value=kpi or "uptake",
                        clearable=False,
                    ),
                ],
                className="controls",
            ),
            html.Div(id="validation-error"),
            dcc.Graph(id="validation-timeline"),
            dcc.Graph(id="validation-phases"),
            html.H2("The KPI by phase", id="validation-table-title"),
            table("validation-table", pd.DataFrame(), page_size=15),
            html.P("Uptake is per 1,000 inhabitants.", className="note"),
            credit(),
        ]
    )


def validation_view(service: str, kpi: str) -> tuple:
    """The service's timeline, its KPI by phase and the address's state."""
    search = query(service=service, kpi=kpi)
    try:
        kpis = _kpis()
        services = current_source().services()
    except HUB_ERRORS as error:
        empty = figures.timeline_figure(pd.DataFrame())
        return empty, empty, [], [], search, hub_banner(error)
    # Months and phases of a service's pilots, and its timeline, once per hub answer.
    phased = derived(
        kpis, f"phases:{service}", lambda f: figures.with_phases(rows_of(f, "service", service))
    )
    phases = figures.phase_table(phased, service=service, kpi=kpi)
    timeline = derived(
        services,
        f"timeline:{service}",
        lambda f: figures.timeline_table(rows_of(f, "service", service), service=service),
    )
    return (
        figures.timeline_figure(timeline),
        figures.phase_figure(phases, service=service, kpi=kpi),
        records(phases),
        columns(phases),
        search,
        None,
    )


def register_callbacks(app: Dash) -> None:
    """The page's callbacks on app."""
    app.callback(
        Output("validation-timeline", "figure"),
        Output("validation-phases", "figure"),
        Output(grid("validation-table"), "rowData"),
        Output(grid("validation-table"), "columnDefs"),
        Output("validation-url", "search"),
        Output("validation-error", "children"),
        Input("validation-service", "value"),
        Input("validation-kpi", "value"),
    )(validation_view)
