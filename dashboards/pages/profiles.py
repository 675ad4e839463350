"""Profiles: city clusters in 2-D, each cluster's profile, segment and channel mixes."""

import pandas as pd
from dash import Dash, Input, Output, dcc, html

from dashboards import figures
from dashboards.components import (
    HUB_ERRORS,
    columns,
    credit,
    current_source,
    evaluation_table,
    grid,
    hub_banner,
    hub_guarded,
    problem,
    query,
    records,
    table,
)

PAGE = {"path": "/profiles", "name": "Profiles", "title": "Profiles · CARMEN", "order": 2}


def _clusters() -> pd.DataFrame:
    return evaluation_table("clusters", what="the clusters")


@hub_guarded
def layout(cluster: str | None = None, **_: str) -> html.Div:
    """The clusters, with one chosen from the address (?cluster=N)."""
    clusters = _clusters()
    known = sorted(int(c) for c in clusters["cluster"].unique())
    messages = []
    chosen = None
    if cluster is not None:
        try:
            chosen = int(cluster)
        except ValueError:
            chosen = None
        if chosen not in known:
            messages.append(problem(f"Unknown cluster {cluster!r}: the clusters are {known}."))
            chosen = None
    return html.Div(
        [
            dcc.Location(id="profiles-url", refresh=False),
            html.H1("Profiles"),
            *messages,
            html.P(
                f"{len(clusters)} cities in {len(known)} clusters, chosen by the silhouette "
                "score over context and usage profiles.",
            ),
            html.Label("Cluster", htmlFor="profiles-cluster"),
            dcc.Dropdown(
                id="profiles-cluster",
                options=[{"label": f"cluster {c}", "value": c} for c in known],
                value=chosen if chosen is not None else known[0],
                clearable=False,
            ),
            html.Div(id="profiles-error"),
            dcc.Graph(id="profiles-map"),
            html.Div(
                [dcc.Graph(id="profiles-segments"), dcc.Graph(id="profiles-channels")],
                className="row",
            ),
            html.H2("Cities of the cluster", id="profiles-cities-title"),
            table("profiles-cities", pd.DataFrame()),
            html.H2("Every cluster's profile (means)"),
            table("profiles-table", figures.cluster_profile(clusters)),
            credit(),
        ]
    )


def cluster_view(cluster: int) -> tuple:
    """The map with the cluster highlighted, its mixes, its cities and the address's state."""
    search = query(cluster=cluster)
    try:
        clusters = _clusters()
    except HUB_ERRORS as error:
        empty = figures.cluster_map(None)
        return empty, empty, empty, [], [], "", search, hub_banner(error)
    cities = clusters[clusters["cluster"] == cluster][["city_id", "x", "y"]].round(3)
    names = current_source().nodes()
    if not names.empty:
        cities = cities.join(names.set_index("node")[["city", "country"]], on="city_id")
    return (
        figures.cluster_map(clusters, selected=cluster),
        figures.cluster_mix(clusters, prefix="users_", cluster=cluster),
        figures.cluster_mix(clusters, prefix="channel_", cluster=cluster),
        records(cities),
        columns(cities),
        f"Cities of cluster {cluster} ({len(cities)})",
        search,
        None,
    )


def register_callbacks(app: Dash) -> None:
    """The page's callbacks on app."""
    app.callback(
        Output("profiles-map", "figure"),
        Output("profiles-segments", "figure"),
        Output("profiles-channels", "figure"),
        Output(grid("profiles-cities"), "rowData"),
        Output(grid("profiles-cities"), "columnDefs"),
        Output("profiles-cities-title", "children"),
        Output("profiles-url", "search"),
        Output("profiles-error", "children"),
        Input("profiles-cluster", "value"),
    )(cluster_view)
