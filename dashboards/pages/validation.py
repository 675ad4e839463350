"""Validation phase: the 18-month pilot timeline per city and service, and KPIs by phase."""

import pandas as pd
from dash import Dash, Input, dcc, html

from dashboards import components as ui
from dashboards import figures
from dashboards.data import derived, distinct, rows_of

PAGE = {
    "path": "/validation",
    "name": "Validation phase",
    "title": "Validation phase · CARMEN",
    "order": 4,
}
KPIS = list(figures.KPI_LABELS)


def _kpis() -> pd.DataFrame:
    return ui.evaluation_table("kpis", what="the KPIs")


@ui.hub_guarded
def layout(service: str | None = None, kpi: str | None = None, **_: str) -> html.Div:
    """A service and KPI from the address (?service=&kpi=)."""
    kpis = _kpis()
    services = distinct(kpis, "service")
    check = ui.AddressCheck()
    service, kpi = check.service(service, services), check.kpi(kpi, KPIS)
    return html.Div(
        [
            dcc.Location(id="validation-url", refresh=False),
            html.H1("Validation phase"),
            *check.messages,
            html.P(
                "Each pilot's months from its first: months 1-6, 7-12 and 13-18 of the "
                "market-validation phase.",
                className="note",
            ),
            html.Div(
                [
                    ui.choice("Service", "validation-service", services, service),
                    ui.choice(
                        "KPI", "validation-kpi", KPIS, kpi or "uptake", labels=figures.KPI_LABELS
                    ),
                ],
                className="controls",
            ),
            html.Div(id="validation-error"),
            dcc.Graph(id="validation-timeline"),
            dcc.Graph(id="validation-phases"),
            html.H2("The KPI by phase", id="validation-table-title"),
            ui.table("validation-table", pd.DataFrame(), page_size=15),
            html.P("Uptake is per 1,000 inhabitants.", className="note"),
            ui.credit(),
        ]
    )


def validation_view(service: str, kpi: str) -> tuple:
    """The service's timeline, its KPI by phase and the address's state."""
    search = ui.query(service=service, kpi=kpi)
    try:
        kpis = _kpis()
        services = ui.current_source().services()
    except ui.HUB_ERRORS as error:
        empty = figures.timeline_figure(pd.DataFrame())
        return empty, empty, [], [], search, ui.hub_banner(error)
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
        ui.records(phases),
        ui.columns(phases),
        search,
        None,
    )


def register_callbacks(app: Dash) -> None:
    """The page's callbacks on app."""
    app.callback(
        *ui.outputs(
            "validation-timeline",
            "validation-phases",
            tables=("validation-table",),
            state="validation",
        ),
        Input("validation-service", "value"),
        Input("validation-kpi", "value"),
    )(validation_view)
