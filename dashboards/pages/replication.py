"""Replication: where a service would work, why, how far to trust it, and how to clone it."""

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

PAGE = {"path": "/replication", "name": "Replication", "title": "Replication · CARMEN", "order": 3}
ROOT = "/srv/carmen"


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    return tuple(
        evaluation_table(name, what="the verdicts", empty_ok=True) for name in ("viability", "kpis")
    )


@hub_guarded
def layout(service: str | None = None, city: str | None = None, **_: str) -> html.Div:
    """A service and a target city from the address (?service=&city=)."""
    viability, kpis = _tables()
    europe = current_source().table("europe")
    services = sorted({*distinct(kpis, "service"), *distinct(viability, "service")})
    cities = sorted({*distinct(kpis, "city_id"), *distinct(viability, "city_id")})
    messages = []
    if service and service not in services:
        messages.append(problem(f"Unknown service {service!r}: no city pilots it."))
        service = None
    if city and city not in cities:
        messages.append(problem(f"Unknown city {city!r}: no node of the federation has that name."))
        city = None
    summary = (
        figures.europe_summary(None)
        if europe is None
        else derived(europe, "summary", figures.europe_summary)
    )
    return html.Div(
        [
            dcc.Location(id="replication-url", refresh=False),
            html.H1("Replication"),
            *messages,
            html.Div(
                [
                    control(
                        "Service",
                        "replication-service",
                        options=options(services),
                        value=service or (services[0] if services else None),
                        clearable=False,
                    ),
                    control(
                        "Target city",
                        "replication-city",
                        options=options(cities),
                        value=city,
                        placeholder="the best-ranked city without the service",
                    ),
                ],
                className="controls",
            ),
            html.Div(id="replication-error"),
            dcc.Graph(id="replication-ranking"),
            html.H2("Every city ranked by expected uptake"),
            table("replication-table", pd.DataFrame(), page_size=15),
            html.Div(
                [
                    html.Div(
                        [
                            html.H2("Why: the drivers", id="replication-drivers-title"),
                            dcc.Graph(id="replication-drivers"),
                        ]
                    ),
                    html.Div(
                        [
                            html.H2("How far to trust it: the back-test"),
                            dcc.Graph(id="replication-backtest"),
                            table("replication-accuracy", pd.DataFrame()),
                        ]
                    ),
                ],
                className="row",
            ),
            html.H2("Clone it"),
            html.Pre(id="replication-command", className="command"),
            html.P(
                f"Run it on a machine that holds both nodes' instance folders; {ROOT}/<slug> "
                "stands for each node's instance folder (the pilot city's node the judgement "
                "leans on most, and the target's). It re-renders the template at the pilot's "
                "version with the target city's answers; add --set KEY=VALUE to change one.",
                className="note",
            ),
            html.H2("Across Europe"),
            html.P(
                "Each service judged from context alone in every city of the Eurostat table "
                "(wider bands than for federation cities, which have their age mix).",
                className="note",
            ),
            dcc.Graph(id="replication-europe", figure=figures.europe_figure(summary)),
            table("replication-europe-table", summary),
            credit(),
        ]
    )


def replication_view(service: str, city: str | None) -> tuple:
    """Ranking, drivers, back-test and the clone command for a service and target."""
    search = query(service=service, city=city)
    try:
        viability, kpis = _tables()
        source = current_source()
        nodes = source.nodes()
        services = source.services()
        backtest = source.table("backtest")
        backtest_cities = source.table("backtest_cities")
    except HUB_ERRORS as error:
        empty = figures.ranking_figure(pd.DataFrame(), service=service or "", selected=None)
        return (empty, [], [], empty, "", empty, [], [], "", search, hub_banner(error))
    viability = rows_of(viability, "service", service)
    ranked = figures.ranking(viability, rows_of(kpis, "service", service), nodes, service=service)
    judged = ranked[ranked["verdict"] != "piloted"]
    message = None
    target = city
    if target is None and not judged.empty:
        target = str(judged.iloc[0]["city_id"])
    row = viability[viability["city_id"] == target]
    if target is not None and row.empty:
        message = problem(
            f"{target} pilots {service} already (or was not judged): no clone to suggest."
        )
        drivers: dict = {}
    else:
        drivers = figures.parse_drivers(row.iloc[0]["drivers"]) if not row.empty else {}
    command = ""
    if target is not None and not row.empty:
        origin = figures.clone_source(services, drivers, service=service)
        if origin is not None:
            command = figures.clone_command(
                code=origin[1], source=origin[0], target=target, root=ROOT
            )
    accuracy = figures.backtest_summary(backtest, service=service)
    return (
        figures.ranking_figure(ranked, service=service, selected=target),
        records(ranked),
        columns(ranked),
        figures.drivers_figure(drivers, city=target or "no city"),
        f"Why: the drivers for {target}" if target else "Why: the drivers",
        figures.backtest_figure(backtest_cities, service=service),
        records(accuracy),
        columns(accuracy),
        command,
        search,
        message,
    )


def register_callbacks(app: Dash) -> None:
    """The page's callbacks on app."""
    app.callback(
        Output("replication-ranking", "figure"),
        Output(grid("replication-table"), "rowData"),
        Output(grid("replication-table"), "columnDefs"),
        Output("replication-drivers", "figure"),
        Output("replication-drivers-title", "children"),
        Output("replication-backtest", "figure"),
        Output(grid("replication-accuracy"), "rowData"),
        Output(grid("replication-accuracy"), "columnDefs"),
        Output("replication-command", "children"),
        Output("replication-url", "search"),
        Output("replication-error", "children"),
        Input("replication-service", "value"),
        Input("replication-city", "value"),
    )(replication_view)
