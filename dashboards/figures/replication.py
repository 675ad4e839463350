"""The Replication page's builders: ranking, drivers, back-test, clone command, Europe."""

import json
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.base import (
    OKABE_ITO,
    VERDICT_COLOURS,
    VERDICT_SYMBOLS,
    empty_figure,
    listed,
    make_figure,
    pilot_kpis,
    trace,
)


def ranking(
    viability: pd.DataFrame, kpis: pd.DataFrame, nodes: pd.DataFrame, *, service: str
) -> pd.DataFrame:
    """Every city ranked by expected uptake of a service: judged cities and its pilots."""
    shown = ["city_id", "expected_uptake", "low", "high", "target_uptake", "score", "verdict"]
    judged = viability[viability["service"] == service]
    judged = judged[[c for c in shown if c in judged.columns]]
    pilots = pilot_kpis(kpis)
    pilots = pilots[pilots["service"] == service]
    observed = pd.DataFrame(
        {
            "city_id": pilots["city_id"],
            "expected_uptake": pilots["uptake"],
            "low": pilots["uptake_low"],
            "high": pilots["uptake_high"],
            "score": np.nan,
            "verdict": "piloted",
        }
    )
    table = pd.concat([df for df in (judged, observed) if not df.empty], ignore_index=True)
    if table.empty:
        return pd.DataFrame(columns=["rank", "city_id", "city", "country", *judged.columns[1:]])
    names = nodes.set_index("node")[["city", "country"]] if not nodes.empty else None
    if names is not None:
        table = table.join(names, on="city_id")
    table = table.sort_values("expected_uptake", ascending=False, ignore_index=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    for column in ("expected_uptake", "low", "high", "target_uptake", "score"):
        if column in table.columns:
            table[column] = table[column].astype(float).round(3)
    return table


def target_sentence(targets: pd.DataFrame | None, *, service: str | None) -> str:
    """What a city must reach for the service to be judged viable, and where that comes from."""
    if targets is None or targets.empty or service is None or "service" not in targets:
        return ""
    rows = targets[targets["service"] == service]
    if rows.empty or "sentence" not in rows:
        return ""
    return f"The score is the probability of reaching the {rows.iloc[0]['sentence']}."


def ranking_figure(table: pd.DataFrame, *, service: str, selected: str | None) -> go.Figure:
    """Expected uptake with its band for every city, coloured and shaped by verdict."""
    title = f"Where {service} would work: expected uptake with its 90% band"
    if table.empty:
        return empty_figure(title, f"No judgement for {service}")
    traces: list[dict[str, Any]] = []
    for verdict, rows in table.groupby("verdict", sort=False):
        traces.append(
            trace(
                "scatter",
                x=rows["expected_uptake"],
                y=rows["city_id"],
                mode="markers",
                name=str(verdict),
                marker={
                    "color": VERDICT_COLOURS.get(str(verdict), OKABE_ITO[7]),
                    "symbol": VERDICT_SYMBOLS.get(str(verdict), "circle"),
                    "size": [14 if c == selected else 9 for c in rows["city_id"]],
                    "line": {"width": 1, "color": "#333"},
                },
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (rows["high"] - rows["expected_uptake"]).to_numpy(),
                    "arrayminus": (rows["expected_uptake"] - rows["low"]).to_numpy(),
                },
                hovertemplate="%{y}: %{x:.3g}<extra>" + str(verdict) + "</extra>",
            )
        )
    return make_figure(
        traces,
        title=title,
        xaxis_title="citizens per 1,000 per month",
        yaxis={"categoryorder": "array", "categoryarray": list(table["city_id"])[::-1]},
        height=max(350, 22 * min(len(table), 60) + 120),
    )


def parse_drivers(text: Any) -> dict[str, Any]:
    """The drivers of one judgement (JSON text in the viability table) as a dict."""
    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {}


def drivers_figure(drivers: dict[str, Any], *, city: str) -> go.Figure:
    """What drives a city's expected uptake: each age band's contribution and context effects."""
    title = f"Drivers for {city}"
    segments = drivers.get("segments") or []
    context = drivers.get("context") or []
    if not segments and not context:
        return empty_figure(title, "No drivers for this city")
    traces: list[dict[str, Any]] = []
    if segments:
        traces.append(
            trace(
                "bar",
                x=[s["contribution"] for s in segments],
                y=[f"age {s['segment']}" for s in segments],
                orientation="h",
                name="uptake each age band brings",
                marker_color=OKABE_ITO[4],
            )
        )
    if context:
        traces.append(
            trace(
                "bar",
                x=[c["effect_pct"] for c in context],
                y=[c["figure"] for c in context],
                orientation="h",
                name="context effect (%) vs pilots' average",
                marker_color=OKABE_ITO[0],
                marker_pattern_shape="/",
                xaxis="x2",
            )
        )
    return make_figure(
        traces,
        title=title,
        xaxis={"title": "per 1,000 a month", "domain": [0, 0.42]},
        xaxis2={"title": "effect (%)", "domain": [0.58, 1], "anchor": "y"},
    )


def backtest_summary(backtest: pd.DataFrame | None, *, service: str) -> pd.DataFrame:
    """The back-test's accuracy for a service and overall, rounded for reading."""
    if backtest is None or backtest.empty:
        return pd.DataFrame()
    rows = backtest[backtest["service"].isin([service, "overall"])]
    return rows.round(3).reset_index(drop=True)


def backtest_figure(backtest_cities: pd.DataFrame | None, *, service: str) -> go.Figure:
    """Held-out pilots: what the model predicted against what the pilot measured."""
    title = f"Back-test of {service}: predicted vs measured uptake of each held-out pilot"
    if backtest_cities is None or backtest_cities.empty:
        return empty_figure(title, "No back-test (too few pilots)")
    rows = backtest_cities[backtest_cities["service"] == service]
    if rows.empty:
        return empty_figure(title, "No back-test (too few pilots)")
    top = float(np.nanmax(rows[["truth", "high"]].to_numpy(dtype=float)))
    traces = listed(
        [
            trace(
                "scatter",
                x=[0, top],
                y=[0, top],
                mode="lines",
                name="perfect prediction",
                line={"color": "#777", "dash": "dash"},
            ),
            trace(
                "scatter",
                x=rows["truth"],
                y=rows["predicted"],
                mode="markers",
                text=rows["city_id"],
                name="held-out pilot",
                marker={"color": OKABE_ITO[4], "size": 10},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (rows["high"] - rows["predicted"]).to_numpy(),
                    "arrayminus": (rows["predicted"] - rows["low"]).to_numpy(),
                },
                hovertemplate="%{text}: measured %{x:.3g}, predicted %{y:.3g}<extra></extra>",
            ),
        ]
    )
    return make_figure(
        traces, title=title, xaxis_title="measured uptake", yaxis_title="predicted uptake"
    )


def clone_source(
    services: pd.DataFrame, drivers: dict[str, Any], *, service: str
) -> tuple[str, str] | None:
    """The pilot to clone from (node, service code): the one the judgement leans on most."""
    running = services[services["service"] == service]
    if running.empty:
        return None
    codes = dict(zip(running["node"], running["code"], strict=True))
    for pilot in sorted(drivers.get("pilots") or [], key=lambda p: -float(p.get("weight") or 0)):
        if pilot.get("city_id") in codes:
            return pilot["city_id"], codes[pilot["city_id"]]
    first = running.sort_values(["first_period", "node"]).iloc[0]
    return str(first["node"]), str(first["code"])


def clone_command(*, code: str, source: str, target: str, root: str = "/srv/carmen") -> str:
    """The `carmen service clone` command that brings a service from one node to another."""
    return f"carmen service clone {code} --from {root}/{source} --to {root}/{target}"


def europe_summary(europe: pd.DataFrame | None) -> pd.DataFrame:
    """Per service: the cities, countries and people it is viable for across Europe's cities."""
    columns = [
        "service",
        "viable_cities",
        "viable_countries",
        "viable_population",
        "pilot_first_cities",
        "not_viable_cities",
        "not_viable_population",
        "cities_judged",
    ]
    if europe is None or europe.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for service, frame in europe.groupby("service", sort=True):
        viable = frame[frame["verdict"] == "replicate"]
        rows.append(
            {
                "service": service,
                "viable_cities": len(viable),
                "viable_countries": int(viable["country"].nunique()),
                "viable_population": int(viable["population"].sum()),
                "pilot_first_cities": int((frame["verdict"] == "pilot first").sum()),
                "not_viable_cities": int((frame["verdict"] == "not viable").sum()),
                "not_viable_population": int(
                    frame.loc[frame["verdict"] == "not viable", "population"].sum()
                ),
                "cities_judged": len(frame),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def europe_figure(summary: pd.DataFrame) -> go.Figure:
    """People each service is viable for across Europe's cities."""
    title = "Across Europe's cities: people each service is viable for"
    if summary.empty:
        return empty_figure(title, "No European judgement in the latest evaluation")
    traces = listed(
        trace(
            "bar",
            x=summary["service"],
            y=summary["viable_population"] / 1e6,
            marker_color=OKABE_ITO[2],
            customdata=summary[["viable_cities", "viable_countries"]].to_numpy(),
            hovertemplate=(
                "%{x}: %{y:.1f} million people in %{customdata[0]} cities across "
                "%{customdata[1]} countries<extra></extra>"
            ),
        )
    )
    return make_figure(traces, title=title, yaxis_title="million people", xaxis_title="service")
