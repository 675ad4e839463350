"""The Profiles page's builders: the clusters' map, their profiles and mixes."""

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.base import (
    OKABE_ITO,
    SYMBOLS,
    empty_figure,
    make_figure,
    trace,
)


def cluster_map(clusters: pd.DataFrame, *, selected: int | None = None) -> go.Figure:
    """Cities in the clusters' 2-D projection, one colour and symbol per cluster."""
    title = "City clusters (2-D projection of context and usage profiles)"
    if clusters is None or clusters.empty:
        return empty_figure(title, "No clusters yet")
    traces: list[dict[str, Any]] = []
    for cluster, rows in clusters.groupby("cluster", sort=True):
        index = int(cluster)
        chosen = selected is None or index == selected
        traces.append(
            trace(
                "scatter",
                x=rows["x"],
                y=rows["y"],
                mode="markers+text" if len(clusters) <= 40 else "markers",
                text=rows["city_id"],
                textposition="top center",
                name=f"cluster {index}",
                opacity=1.0 if chosen else 0.25,
                marker={
                    "color": OKABE_ITO[index % len(OKABE_ITO)],
                    "symbol": SYMBOLS[index % len(SYMBOLS)],
                    "size": 11,
                    "line": {"width": 1, "color": "#333"},
                },
                hovertemplate="%{text}<extra>cluster " + str(index) + "</extra>",
            )
        )
    return make_figure(traces, title=title, xaxis_title="component 1", yaxis_title="component 2")


def cluster_profile(clusters: pd.DataFrame) -> pd.DataFrame:
    """Each cluster's profile: cities and the mean of every profile column."""
    columns = [c for c in clusters.columns if c not in ("city_id", "cluster", "x", "y")]
    numeric = clusters[columns].apply(pd.to_numeric, errors="coerce")
    profile = numeric.groupby(clusters["cluster"]).mean().round(3)
    profile.insert(0, "cities", clusters.groupby("cluster")["city_id"].count())
    profile = profile.dropna(axis=1, how="all").reset_index()
    return profile


def cluster_mix(clusters: pd.DataFrame, *, prefix: str, cluster: int | None) -> go.Figure:
    """A cluster's mix of users by segment (``users_``) or requests by channel (``channel_``)."""
    what = "segment" if prefix == "users_" else "channel"
    columns = [c for c in clusters.columns if c.startswith(prefix)]
    title = f"{what.capitalize()} mix" + (f" of cluster {cluster}" if cluster is not None else "")
    if not columns:
        return empty_figure(title, f"No {what} mix in the profiles")
    names = [c.removeprefix(prefix) for c in columns]
    everyone = clusters[columns].mean()
    traces = [
        trace("bar", x=names, y=everyone.to_numpy(), name="all cities", marker_color=OKABE_ITO[7])
    ]
    if cluster is not None:
        mine = clusters[clusters["cluster"] == cluster][columns].mean()
        traces.insert(
            0,
            trace(
                "bar",
                x=names,
                y=mine.to_numpy(),
                name=f"cluster {cluster}",
                marker_color=OKABE_ITO[cluster % len(OKABE_ITO)],
            ),
        )
    return make_figure(
        traces, title=title, barmode="group", yaxis={"tickformat": ".0%"}, xaxis_title=what
    )
