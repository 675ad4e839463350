"""Profiles: city clusters in 2-D, each cluster's profile, segment and channel mixes."""

import pandas as pd
from dash import Dash, Input, Output, dcc, html

from dashboards import components as ui
from dashboards import figures

PAGE = {"path": "/profiles", "name": "Profiles", "title": "Profiles · CARMEN", "order": 2}


def _clusters() -> pd.DataFrame:
    return ui.evaluation_table("clusters", what="the clusters")


@ui.hub_guarded
def layout(cluster: str | None = None, **_: str) -> html.Div:
    """The clusters, with one chosen from the address (?cluster=N)."""
    clusters = _clusters()
    known = sorted(int(c) for c in clusters["cluster"].unique())
    check = ui.AddressCheck()
    try:
        chosen = None if cluster is None else int(cluster)
    except ValueError:
        chosen = -1  # not a number: not a cluster either
    chosen = check.known(chosen, known, f"Unknown cluster {cluster!r}: the clusters are {known}.")
    return html.Div(
        [
            dcc.Location(id="profiles-url", refresh=False),
            html.H1("Profiles"),
            *check.messages,
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
            ui.table("profiles-cities", pd.DataFrame()),
            html.H2("Every cluster's profile (means)"),
            ui.table("profiles-table", figures.cluster_profile(clusters)),
            ui.credit(),
        ]
    )


def cluster_view(cluster: int) -> tuple:
    """The map with the cluster highlighted, its mixes, its cities and the address's state."""
    search = ui.query(cluster=cluster)
    try:
        clusters = _clusters()
    except ui.HUB_ERRORS as error:
        empty = figures.cluster_map(None)
        return empty, empty, empty, [], [], "", search, ui.hub_banner(error)
    cities = clusters[clusters["cluster"] == cluster][["city_id", "x", "y"]].round(3)
    names = ui.current_source().nodes()
    if not names.empty:
        cities = cities.join(names.set_index("node")[["city", "country"]], on="city_id")
    return (
        figures.cluster_map(clusters, selected=cluster),
        figures.cluster_mix(clusters, prefix="users_", cluster=cluster),
        figures.cluster_mix(clusters, prefix="channel_", cluster=cluster),
        ui.records(cities),
        ui.columns(cities),
        f"Cities of cluster {cluster} ({len(cities)})",
        search,
        None,
    )


def register_callbacks(app: Dash) -> None:
    """The page's callbacks on app."""
    app.callback(
        *ui.outputs(
            "profiles-map", "profiles-segments", "profiles-channels", tables=("profiles-cities",)
        ),
        Output("profiles-cities-title", "children"),
        *ui.outputs(state="profiles"),
        Input("profiles-cluster", "value"),
    )(cluster_view)
