"""The Services page's builders: KPI heatmap and series, channel mix, reach across segments."""

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.base import (
    OKABE_ITO,
    SEGMENTS,
    SEQUENTIAL,
    empty_figure,
    kpi_label,
    listed,
    make_figure,
    monthly_kpis,
    pilot_kpis,
    trace,
)


def kpi_heatmap(kpis: pd.DataFrame, kpi: str) -> go.Figure:
    """Service x city heatmap of a KPI over the whole pilot; the band shows on hover."""
    rows = pilot_kpis(kpis)
    title = f"{kpi_label(kpi)} per service and city, whole pilot"
    if rows.empty or kpi not in rows:
        return empty_figure(title, "No KPI has been computed yet")
    value = rows.pivot(index="service", columns="city_id", values=kpi)
    low = rows.pivot(index="service", columns="city_id", values=f"{kpi}_low").reindex_like(value)
    high = rows.pivot(index="service", columns="city_id", values=f"{kpi}_high").reindex_like(value)
    traces = listed(
        trace(
            "heatmap",
            z=value.to_numpy(dtype=float),
            x=list(value.columns),
            y=list(value.index),
            customdata=np.dstack([low.to_numpy(dtype=float), high.to_numpy(dtype=float)]),
            colorscale=SEQUENTIAL,
            colorbar={"title": {"text": kpi.replace("_", " ")}},
            hoverongaps=False,
            hovertemplate=(
                "%{y} in %{x}<br>"
                + kpi_label(kpi)
                + ": %{z:.3g}<br>90% band: %{customdata[0]:.3g} to %{customdata[1]:.3g}"
                "<extra></extra>"
            ),
        )
    )
    return make_figure(traces, title=title, xaxis_title="city", yaxis_title="service")


def kpi_series(kpis: pd.DataFrame, *, service: str, kpi: str, city: str | None) -> go.Figure:
    """A service's monthly KPI: the median over its cities, and one city with its band."""
    rows = monthly_kpis(kpis[kpis["service"] == service])
    title = f"{kpi_label(kpi)} of {service}, month by month"
    if rows.empty:
        return empty_figure(title, f"No monthly KPI for {service}")
    median = rows.groupby("period")[kpi].median().sort_index()
    traces = listed(
        trace(
            "scatter",
            x=list(median.index),
            y=median.to_numpy(),
            mode="lines+markers",
            name="median over cities",
            line={"color": OKABE_ITO[7], "dash": "dot"},
        )
    )
    if city:
        one = rows[rows["city_id"] == city].sort_values("period")
        colour = OKABE_ITO[4]
        traces.append(
            trace(
                "scatter",
                x=list(one["period"]) + list(one["period"])[::-1],
                y=list(one[f"{kpi}_high"]) + list(one[f"{kpi}_low"])[::-1],
                fill="toself",
                fillcolor="rgba(0,114,178,0.2)",
                line={"width": 0},
                hoverinfo="skip",
                name=f"{city}: 90% band",
            )
        )
        traces.append(
            trace(
                "scatter",
                x=one["period"],
                y=one[kpi],
                mode="lines+markers",
                name=city,
                line={"color": colour},
                customdata=one[[f"{kpi}_low", f"{kpi}_high"]].to_numpy(),
                hovertemplate=(
                    "%{x}: %{y:.3g} (band %{customdata[0]:.3g} to %{customdata[1]:.3g})"
                    "<extra>" + city + "</extra>"
                ),
            )
        )
    return make_figure(traces, title=title, xaxis_title="month", yaxis_title=kpi_label(kpi))


def channel_totals(cells: pd.DataFrame) -> pd.DataFrame:
    """Requests per month (rows) and channel (columns), summed over the cells' cities."""
    rows = cells[(cells["segment"] == "all") & (cells["channel"] != "all")]
    return rows.pivot_table(index="period", columns="channel", values="value", aggfunc="sum")


def channel_mix(
    cells: pd.DataFrame, *, city: str | None = None, totals: pd.DataFrame | None = None
) -> go.Figure:
    """Share of requests by channel, month by month (submitted events, all segments).

    `totals` (from channel_totals) spares summing the cells again when they are given.
    """
    if totals is None:
        totals = channel_totals(cells[cells["node"] == city] if city else cells)
    where = city or "all cities"
    title = f"Channel mix of requests, {where}"
    if totals.empty:
        return empty_figure(title, "No channel figures (cells below the threshold are not sent)")
    shares = totals.div(totals.sum(axis=1), axis=0).fillna(0.0)
    traces: list[dict[str, Any]] = []
    for i, channel in enumerate(shares.columns):
        traces.append(
            trace(
                "bar",
                x=list(shares.index),
                y=shares[channel].to_numpy(),
                name=channel,
                marker_color=OKABE_ITO[i % len(OKABE_ITO)],
                customdata=totals[channel].fillna(0).to_numpy(),
                hovertemplate=(
                    f"{channel}: %{{y:.0%}} (%{{customdata:,.0f}} requests)<extra></extra>"
                ),
            )
        )
    return make_figure(
        traces,
        title=title,
        barmode="stack",
        yaxis={"tickformat": ".0%", "title": "share of requests"},
        xaxis_title="month",
    )


def segment_reach(
    cells: pd.DataFrame, nodes: pd.DataFrame, *, city: str | None = None
) -> go.Figure:
    """Users by age band against the population's age mix: who the service reaches."""
    rows = cells[(cells["channel"] == "all") & (cells["segment"].isin(SEGMENTS))]
    if city:
        rows = rows[rows["node"] == city]
        nodes = nodes[nodes["node"] == city]
    where = city or "all cities"
    title = f"Reach across age bands, {where}"
    if rows.empty:
        return empty_figure(title, "No segment figures (cells below the threshold are not sent)")
    users = rows.groupby("segment")["value"].sum().reindex(SEGMENTS, fill_value=0)
    users_share = users / users.sum() if users.sum() else users
    shares = pd.DataFrame(
        [d if isinstance(d, dict) else {} for d in nodes["population_shares"]],
        columns=list(SEGMENTS),
        dtype=float,
    ).fillna(0.0)
    people = nodes["population"].to_numpy(dtype=float)
    population = pd.Series(shares.to_numpy().T @ people, index=list(SEGMENTS))
    population_share = population / population.sum() if population.sum() else population
    traces = listed(
        [
            trace(
                "bar",
                x=list(SEGMENTS),
                y=users_share.to_numpy(),
                name="share of users",
                marker_color=OKABE_ITO[4],
            ),
            trace(
                "bar",
                x=list(SEGMENTS),
                y=population_share.to_numpy(),
                name="share of population",
                marker_color=OKABE_ITO[0],
                marker_pattern_shape="/",
            ),
        ]
    )
    return make_figure(
        traces,
        title=title,
        barmode="group",
        yaxis={"tickformat": ".0%", "title": "share"},
        xaxis_title="age band",
    )
