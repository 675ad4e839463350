"""Replication: where a service would work, why, how far to trust it, and how to clone it."""

import pandas as pd
from dash import Dash, Input, Output, dcc, html

from dashboards import components as ui
from dashboards import figures
from dashboards.data import derived, distinct, rows_of

PAGE = {"path": "/replication", "name": "Replication", "title": "Replication · CARMEN", "order": 3}
ROOT = "/srv/carmen"


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        ui.evaluation_table("viability", what="the verdicts", empty_ok=True),
        ui.evaluation_table("kpis", what="the verdicts", empty_ok=True),
    )


@ui.hub_guarded
def layout(service: str | None = None, city: str | None = None, **_: str) -> html.Div:
    """A service and a target city from the address (?service=&city=)."""
    viability, kpis = _tables()
    europe = ui.current_source().table("europe")
    services = sorted({*distinct(kpis, "service"), *distinct(viability, "service")})
    cities = sorted({*distinct(kpis, "city_id"), *distinct(viability, "city_id")})
    check = ui.AddressCheck()
    service, city = check.service(service, services), check.city(city, cities)
    summary = (
        figures.europe_summary(None)
        if europe is None
        else derived(europe, "summary", figures.europe_summary)
    )
    return html.Div(
        [
            dcc.Location(id="replication-url", refresh=False),
            html.H1("Replication"),
            *check.messages,
            html.Div(
                [
                    ui.choice("Service", "replication-service", services, service),
                    ui.choice(
                        "Target city",
                        "replication-city",
                        cities,
                        city,
                        optional="the best-ranked city without the service",
                    ),
                ],
                className="controls",
            ),
            html.Div(id="replication-error"),
            html.P(id="replication-target", className="note"),
            dcc.Graph(id="replication-ranking"),
            html.H2("Every city ranked by expected uptake"),
            ui.table("replication-table", pd.DataFrame(), page_size=15),
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
                            ui.table("replication-accuracy", pd.DataFrame()),
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
            ui.table("replication-europe-table", summary),
            ui.credit(),
        ]
    )


def replication_view(service: str, city: str | None) -> tuple:
    """Ranking, drivers, back-test and the clone command for a service and target."""
    search = ui.query(service=service, city=city)
    try:
        viability, kpis = _tables()
        source = ui.current_source()
        nodes = source.nodes()
        services = source.services()
        backtest = source.table("backtest")
        backtest_cities = source.table("backtest_cities")
        targets = source.table("targets")
    except ui.HUB_ERRORS as error:
        empty = figures.ranking_figure(pd.DataFrame(), service=service or "", selected=None)
        return (empty, empty, empty, [], [], [], [], "", "", "", search, ui.hub_banner(error))
    viability = rows_of(viability, "service", service)
    ranked = figures.ranking(viability, rows_of(kpis, "service", service), nodes, service=service)
    judged = ranked[ranked["verdict"] != "piloted"]
    message = None
    target = city
    if target is None and not judged.empty:
        target = str(judged.iloc[0]["city_id"])
    row = viability[viability["city_id"] == target]
    if target is not None and row.empty:
        message = ui.problem(
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
        figures.drivers_figure(drivers, city=target or "no city"),
        figures.backtest_figure(backtest_cities, service=service),
        ui.records(ranked),
        ui.columns(ranked),
        ui.records(accuracy),
        ui.columns(accuracy),
        f"Why: the drivers for {target}" if target else "Why: the drivers",
        command,
        figures.target_sentence(targets, service=service),
        search,
        message,
    )


def register_callbacks(app: Dash) -> None:
    """The page's callbacks on app."""
    app.callback(
        *ui.outputs(
            "replication-ranking",
            "replication-drivers",
            "replication-backtest",
            tables=("replication-table", "replication-accuracy"),
        ),
        Output("replication-drivers-title", "children"),
        Output("replication-command", "children"),
        Output("replication-target", "children"),
        *ui.outputs(state="replication"),
        Input("replication-service", "value"),
        Input("replication-city", "value"),
    )(replication_view)
