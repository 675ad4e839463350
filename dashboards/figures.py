"""Pure figure and table builders: DataFrames in, plotly figures or DataFrames out (no Dash)."""

import json
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

# Okabe & Ito's palette: told apart by people with every common colour-vision deficiency.
OKABE_ITO = [
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#000000",
]
SEQUENTIAL = "Cividis"  # perceptually uniform and readable with colour-vision deficiencies
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "cross", "star", "hexagon"]
VERDICT_COLOURS = {
    "replicate": "#009E73",
    "pilot first": "#E69F00",
    "not viable": "#D55E00",
    "piloted": "#0072B2",
}
VERDICT_SYMBOLS = {
    "replicate": "circle",
    "pilot first": "diamond",
    "not viable": "x",
    "piloted": "square",
}
KPI_LABELS = {
    "uptake": "Uptake (citizens per 1,000 per month)",
    "digital_share": "Digital-channel share",
    "completion_rate": "Completion rate",
    "sla_compliance": "SLA compliance",
    "satisfaction": "Satisfaction (1-5)",
    "time_to_acknowledge_median_h": "Time to acknowledge, median (h)",
    "time_to_acknowledge_p90_h": "Time to acknowledge, p90 (h)",
    "time_to_complete_median_h": "Time to complete, median (h)",
    "time_to_complete_p90_h": "Time to complete, p90 (h)",
    "segment_reach": "Reach across segments",
}
MAX_BARS = 40  # more cities than this and a chart shows their spread, not a bar each
MAX_HEIGHT = 1600  # pixels: a long list of pilots packs tighter rather than scroll for ever
PILOT = "pilot"  # the KPI rows summarising a whole pilot (evaluation.kpis.PILOT)
PHASES = ("months 1-6", "months 7-12", "months 13-18")
AFTER = "after month 18"
TO_COME = "still to come (to month 18)"
SEGMENTS = ("16-24", "25-54", "55-74", "75+")
# A small template of our own, given to every figure: plotly's default one is deep-copied into
# each new figure, which took most of a callback's time.
TEMPLATE = go.layout.Template(
    layout={
        "font": {"family": "system-ui, sans-serif", "color": "#1b1b1b"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": OKABE_ITO,
        "xaxis": {"gridcolor": "#e5e5e5", "zerolinecolor": "#bbbbbb", "automargin": True},
        "yaxis": {"gridcolor": "#e5e5e5", "zerolinecolor": "#bbbbbb", "automargin": True},
        "hoverlabel": {"align": "left"},
    }
)
LAYOUT = {"template": TEMPLATE, "margin": {"l": 60, "r": 20, "t": 50, "b": 50}}


def _plain(value: Any) -> Any:
    """pandas objects as numpy arrays, dates as text: what plotly's JSON writer takes as is."""
    if isinstance(value, pd.Series | pd.Index):
        if pd.api.types.is_datetime64_any_dtype(value):
            return (
                value.dt.strftime("%Y-%m-%d").to_numpy()
                if isinstance(value, pd.Series)
                else (value.strftime("%Y-%m-%d").to_numpy())
            )
        return value.to_numpy()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _nest(props: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    """`marker_color=...` as `marker={"color": ...}` (plotly's magic underscores, spelt out)."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        head, _, rest = key.partition("_")
        if rest and head in prefixes:
            node = out.setdefault(head, {})
            for part in rest.split("_")[:-1]:
                node = node.setdefault(part, {})
            node[rest.split("_")[-1]] = value
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def _trace(kind: str, **props: Any) -> dict[str, Any]:
    """One trace as a plain dict."""
    return {"type": kind, **_plain(_nest(props, ("marker",)))}


def _listed(traces: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return traces if isinstance(traces, list) else [traces]


def _title(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


def _figure(traces: list[dict[str, Any]], **layout: Any) -> go.Figure:
    """A figure from plain dicts, on the dashboard's template, without plotly's validation.

    Validating every property of every trace took most of a callback's time; the builders
    spell out plotly's canonical form instead (titles as {"text": ...}), and the unit tests
    read the figures back.
    """
    merged = {**LAYOUT, **_nest(layout, ("xaxis", "yaxis"))}
    merged["title"] = _title(merged.get("title"))
    for name, axis in merged.items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict) and "title" in axis:
            axis["title"] = _title(axis["title"])
    return go.Figure(data=traces, layout=merged, _validate=False)


def _empty(title: str, message: str) -> go.Figure:
    return _figure(
        [],
        title=title,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[{"text": message, "showarrow": False, "font": {"size": 14}}],
    )


def kpi_label(kpi: str) -> str:
    """The readable name of a KPI column."""
    return KPI_LABELS.get(kpi, kpi.replace("_", " "))


def pilot_kpis(kpis: pd.DataFrame) -> pd.DataFrame:
    """The rows that summarise each whole pilot (period ``pilot``)."""
    return kpis[kpis["period"] == PILOT]


def monthly_kpis(kpis: pd.DataFrame) -> pd.DataFrame:
    """The monthly rows (period ``YYYY-MM``)."""
    return kpis[kpis["period"] != PILOT]


def kpi_heatmap(kpis: pd.DataFrame, kpi: str) -> go.Figure:
    """Service x city heatmap of a KPI over the whole pilot; the band shows on hover."""
    rows = pilot_kpis(kpis)
    title = f"{kpi_label(kpi)} per service and city, whole pilot"
    if rows.empty or kpi not in rows:
        return _empty(title, "No KPI has been computed yet")
    value = rows.pivot(index="service", columns="city_id", values=kpi)
    low = rows.pivot(index="service", columns="city_id", values=f"{kpi}_low").reindex_like(value)
    high = rows.pivot(index="service", columns="city_id", values=f"{kpi}_high").reindex_like(value)
    traces = _listed(
        _trace(
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
    return _figure(traces, title=title, xaxis_title="city", yaxis_title="service")


def kpi_series(kpis: pd.DataFrame, *, service: str, kpi: str, city: str | None) -> go.Figure:
    """A service's monthly KPI: the median over its cities, and one city with its band."""
    rows = monthly_kpis(kpis[kpis["service"] == service])
    title = f"{kpi_label(kpi)} of {service}, month by month"
    if rows.empty:
        return _empty(title, f"No monthly KPI for {service}")
    median = rows.groupby("period")[kpi].median().sort_index()
    traces = _listed(
        _trace(
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
            _trace(
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
            _trace(
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
    return _figure(traces, title=title, xaxis_title="month", yaxis_title=kpi_label(kpi))


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
        return _empty(title, "No channel figures (cells below the threshold are not sent)")
    shares = totals.div(totals.sum(axis=1), axis=0).fillna(0.0)
    traces: list[dict[str, Any]] = []
    for i, channel in enumerate(shares.columns):
        traces.append(
            _trace(
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
    return _figure(
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
        return _empty(title, "No segment figures (cells below the threshold are not sent)")
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
    traces = _listed(
        [
            _trace(
                "bar",
                x=list(SEGMENTS),
                y=users_share.to_numpy(),
                name="share of users",
                marker_color=OKABE_ITO[4],
            ),
            _trace(
                "bar",
                x=list(SEGMENTS),
                y=population_share.to_numpy(),
                name="share of population",
                marker_color=OKABE_ITO[0],
                marker_pattern_shape="/",
            ),
        ]
    )
    return _figure(
        traces,
        title=title,
        barmode="group",
        yaxis={"tickformat": ".0%", "title": "share"},
        xaxis_title="age band",
    )


def cluster_map(clusters: pd.DataFrame, *, selected: int | None = None) -> go.Figure:
    """Cities in the clusters' 2-D projection, one colour and symbol per cluster."""
    title = "City clusters (2-D projection of context and usage profiles)"
    if clusters is None or clusters.empty:
        return _empty(title, "No clusters yet")
    traces: list[dict[str, Any]] = []
    for cluster, rows in clusters.groupby("cluster", sort=True):
        index = int(cluster)
        chosen = selected is None or index == selected
        traces.append(
            _trace(
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
    return _figure(traces, title=title, xaxis_title="component 1", yaxis_title="component 2")


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
        return _empty(title, f"No {what} mix in the profiles")
    names = [c.removeprefix(prefix) for c in columns]
    everyone = clusters[columns].mean()
    traces = [
        _trace("bar", x=names, y=everyone.to_numpy(), name="all cities", marker_color=OKABE_ITO[7])
    ]
    if cluster is not None:
        mine = clusters[clusters["cluster"] == cluster][columns].mean()
        traces.insert(
            0,
            _trace(
                "bar",
                x=names,
                y=mine.to_numpy(),
                name=f"cluster {cluster}",
                marker_color=OKABE_ITO[cluster % len(OKABE_ITO)],
            ),
        )
    return _figure(
        traces, title=title, barmode="group", yaxis={"tickformat": ".0%"}, xaxis_title=what
    )


def ranking(
    viability: pd.DataFrame, kpis: pd.DataFrame, nodes: pd.DataFrame, *, service: str
) -> pd.DataFrame:
    """Every city ranked by expected uptake of a service: judged cities and its pilots."""
    judged = viability[viability["service"] == service][
        ["city_id", "expected_uptake", "low", "high", "score", "verdict"]
    ]
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
    for column in ("expected_uptake", "low", "high", "score"):
        table[column] = table[column].astype(float).round(3)
    return table


def ranking_figure(table: pd.DataFrame, *, service: str, selected: str | None) -> go.Figure:
    """Expected uptake with its band for every city, coloured and shaped by verdict."""
    title = f"Where {service} would work: expected uptake with its 90% band"
    if table.empty:
        return _empty(title, f"No judgement for {service}")
    traces: list[dict[str, Any]] = []
    for verdict, rows in table.groupby("verdict", sort=False):
        traces.append(
            _trace(
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
    return _figure(
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
        return _empty(title, "No drivers for this city")
    traces: list[dict[str, Any]] = []
    if segments:
        traces.append(
            _trace(
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
            _trace(
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
    return _figure(
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
        return _empty(title, "No back-test (too few pilots)")
    rows = backtest_cities[backtest_cities["service"] == service]
    if rows.empty:
        return _empty(title, "No back-test (too few pilots)")
    top = float(np.nanmax(rows[["truth", "high"]].to_numpy(dtype=float)))
    traces = _listed(
        [
            _trace(
                "scatter",
                x=[0, top],
                y=[0, top],
                mode="lines",
                name="perfect prediction",
                line={"color": "#777", "dash": "dash"},
            ),
            _trace(
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
    return _figure(
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
                "cities_judged": len(frame),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def europe_figure(summary: pd.DataFrame) -> go.Figure:
    """People each service is viable for across Europe's cities."""
    title = "Across Europe's cities: people each service is viable for"
    if summary.empty:
        return _empty(title, "No European judgement in the latest evaluation")
    traces = _listed(
        _trace(
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
    return _figure(traces, title=title, yaxis_title="million people", xaxis_title="service")


def _month_number(period: pd.Series) -> pd.Series:
    """Months since year 0 of YYYY-MM periods."""
    return period.str[:4].astype(int) * 12 + period.str[5:7].astype(int) - 1


def phase_of(month: pd.Series) -> pd.Series:
    """The validation phase of a pilot's month 1, 2, ...: 1-6, 7-12, 13-18, then after."""
    index = ((month - 1) // 6).clip(upper=len(PHASES))
    names = np.array([*PHASES, AFTER], dtype=object)
    return pd.Series(names[index.to_numpy()], index=month.index)


def with_phases(kpis: pd.DataFrame) -> pd.DataFrame:
    """Monthly KPI rows with each pilot's month number (from its first month) and phase."""
    rows = monthly_kpis(kpis).copy()
    if rows.empty:
        rows["month"] = pd.Series(dtype=int)
        rows["phase"] = pd.Series(dtype=object)
        return rows
    number = _month_number(rows["period"])
    first = number.groupby([rows["service"], rows["city_id"]]).transform("min")
    rows["month"] = number - first + 1
    rows["phase"] = phase_of(rows["month"])
    return rows


def phase_table(kpis: pd.DataFrame, *, service: str, kpi: str) -> pd.DataFrame:
    """A service's KPI per city and validation phase (mean of the phase's months).

    `kpis` may carry its ``month`` and ``phase`` already (from with_phases): they are kept.
    """
    rows = kpis[kpis["service"] == service]  # one service first: far fewer rows
    if "phase" not in rows:
        rows = with_phases(rows)
    if rows.empty:
        return pd.DataFrame(
            columns=["city_id", "phase", "months", kpi, f"{kpi}_low", f"{kpi}_high"]
        )
    grouped = rows.groupby(["city_id", "phase"], sort=True)
    table = grouped[[kpi, f"{kpi}_low", f"{kpi}_high"]].mean().round(3)
    table.insert(0, "months", grouped["month"].count())
    return table.reset_index()


def phase_figure(table: pd.DataFrame, *, service: str, kpi: str) -> go.Figure:
    """A service's KPI by validation phase, one bar per city and phase."""
    title = f"{kpi_label(kpi)} of {service} by validation phase"
    if table.empty:
        return _empty(title, f"No monthly KPI for {service}")
    traces: list[dict[str, Any]] = []
    phases = [p for p in (*PHASES, AFTER) if p in set(table["phase"])]
    if table["city_id"].nunique() > MAX_BARS:
        # Too many cities for a bar each: the spread of cities within each phase.
        for i, phase in enumerate(phases):
            rows = table[table["phase"] == phase]
            traces.append(
                _trace(
                    "box",
                    y=rows[kpi],
                    name=phase,
                    text=rows["city_id"],
                    marker_color=OKABE_ITO[(i + 4) % len(OKABE_ITO)],
                    boxpoints="outliers",
                )
            )
        return _figure(
            traces,
            title=title + f" ({table['city_id'].nunique()} cities)",
            yaxis_title=kpi_label(kpi),
            showlegend=False,
        )
    for i, phase in enumerate(phases):
        rows = table[table["phase"] == phase]
        traces.append(
            _trace(
                "bar",
                x=rows["city_id"],
                y=rows[kpi],
                name=phase,
                marker_color=OKABE_ITO[(i + 4) % len(OKABE_ITO)],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (rows[f"{kpi}_high"] - rows[kpi]).to_numpy(),
                    "arrayminus": (rows[kpi] - rows[f"{kpi}_low"]).to_numpy(),
                },
            )
        )
    return _figure(
        traces, title=title, barmode="group", xaxis_title="city", yaxis_title=kpi_label(kpi)
    )


def timeline_table(services: pd.DataFrame, *, service: str | None = None) -> pd.DataFrame:
    """Each pilot's months as phases: city, service, phase, first and last month of the phase."""
    rows = services if service is None else services[services["service"] == service]
    columns = ["node", "service", "phase", "start", "end"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    first = _month_number(rows["first_period"]).to_numpy()
    last = _month_number(rows["last_period"]).to_numpy()
    parts = []
    for i, phase in enumerate((*PHASES, AFTER)):
        begin = first + 6 * i
        end = np.minimum(last, begin + 5) if i < len(PHASES) else last
        keep = begin <= last
        parts.append(
            pd.DataFrame(
                {
                    "node": rows["node"].to_numpy()[keep],
                    "service": rows["service"].to_numpy()[keep],
                    "phase": phase,
                    "start": _period_text(begin[keep]),
                    "end": _period_text(end[keep]),
                    "order": np.flatnonzero(keep) * 5 + i,
                }
            )
        )
    # The rest of the 18-month validation phase, still to come.
    planned_end = first + 6 * len(PHASES) - 1
    keep = last < planned_end
    parts.append(
        pd.DataFrame(
            {
                "node": rows["node"].to_numpy()[keep],
                "service": rows["service"].to_numpy()[keep],
                "phase": TO_COME,
                "start": _period_text(last[keep] + 1),
                "end": _period_text(planned_end[keep]),
                "order": np.flatnonzero(keep) * 5 + 4,
            }
        )
    )
    table = pd.concat(parts, ignore_index=True).sort_values("order", ignore_index=True)
    return table[columns]


def _period_text(month: np.ndarray) -> list[str]:
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in month.tolist()]


def timeline_figure(table: pd.DataFrame) -> go.Figure:
    """The 18-month pilot timeline per city and service, coloured by validation phase."""
    title = "Pilot timeline by validation phase"
    if table.empty:
        return _empty(title, "No pilot yet")
    start = pd.to_datetime(table["start"] + "-01")
    # A phase ends at the end of its last month.
    end = pd.to_datetime(table["end"] + "-01") + pd.offsets.MonthBegin(1)
    labels = table["node"] + " · " + table["service"]
    traces: list[dict[str, Any]] = []
    for i, phase in enumerate((*PHASES, AFTER, TO_COME)):
        mask = (table["phase"] == phase).to_numpy()
        if not mask.any():
            continue
        planned = phase == TO_COME
        traces.append(
            _trace(
                "bar",
                base=start[mask],
                x=((end[mask] - start[mask]).dt.total_seconds() * 1000).to_numpy(),
                y=labels[mask],
                orientation="h",
                name=phase,
                marker_color="#d9d9d9" if planned else OKABE_ITO[(i + 4) % len(OKABE_ITO)],
                marker_pattern_shape="." if planned else "",
                customdata=table.loc[mask, ["start", "end"]].to_numpy(),
                hovertemplate="%{y}: %{customdata[0]} to %{customdata[1]}<extra>"
                + phase
                + "</extra>",
            )
        )
    return _figure(
        traces,
        title=title,
        barmode="overlay",
        xaxis={"type": "date", "title": "month"},
        height=min(MAX_HEIGHT, max(300, 24 * labels.nunique() + 140)),
    )


def nodes_table(nodes: pd.DataFrame, services: pd.DataFrame) -> pd.DataFrame:
    """Cities and their nodes' health: last sync, latest period held, pending periods, pushes
    refused while suspended, and why the evaluation left a node out."""
    columns = [
        "node",
        "city",
        "country",
        "population",
        "active",
        "last_sync_at",
        "latest_period",
        "pending_periods",
        "services",
        "refused_pushes",
        "evaluation",
    ]
    if nodes.empty:
        return pd.DataFrame(columns=columns)
    table = nodes[["node", "city", "country", "population", "active", "last_sync_at"]].copy()
    latest = services.groupby("node")["last_period"].max() if not services.empty else {}
    counts = services.groupby("node")["code"].count() if not services.empty else {}
    table["latest_period"] = table["node"].map(latest)
    table["pending_periods"] = [", ".join(p or []) for p in nodes["pending_periods"]]
    table["services"] = table["node"].map(counts).fillna(0).astype(int)
    table["last_sync_at"] = table["last_sync_at"].fillna("never").astype(str).str[:16]
    refused = nodes.get("suspended_pushes", pd.Series(0, index=nodes.index))
    table["refused_pushes"] = refused.fillna(0).astype(int)
    warnings = nodes.get("evaluation_warning", [None] * len(nodes))
    table["evaluation"] = [w if isinstance(w, str) else "" for w in warnings]
    return table[columns]


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def services_table(services: pd.DataFrame) -> pd.DataFrame:
    """The services each node pilots and where each came from: template and clone source."""
    columns = ["node", "code", "service", "template", "cloned_from", "first_period", "last_period"]
    if services.empty:
        return pd.DataFrame(columns=columns)
    table = services.copy()
    table["template"] = [
        f"{_text(t)}@{_text(v)}" if _text(t) and _text(v) else (_text(t) or "(none)")
        for t, v in zip(table["template"], table["template_version"], strict=True)
    ]
    table["cloned_from"] = [
        f"{_text(n)}/{_text(s)}" if _text(n) else ""
        for n, s in zip(table["cloned_from_node"], table["cloned_from_service"], strict=True)
    ]
    return table[columns]


def sync_figure(nodes_health: pd.DataFrame, services: pd.DataFrame) -> go.Figure:
    """Each node's months held by the hub and the months it still has to deliver."""
    title = "Nodes' sync: months held by the hub and months pending delivery"
    if nodes_health.empty:
        return _empty(title, "No node enrolled yet")
    held = pd.Series(0, index=nodes_health["node"])
    if not services.empty:
        first = _month_number(services["first_period"]).groupby(services["node"]).min()
        last = _month_number(services["last_period"]).groupby(services["node"]).max()
        held = (last - first + 1).reindex(nodes_health["node"]).fillna(0).astype(int)
    pending = [len(p.split(", ")) if p else 0 for p in nodes_health["pending_periods"]]
    details = nodes_health[["latest_period", "last_sync_at"]].fillna("none").to_numpy()
    traces = _listed(
        [
            _trace(
                "bar",
                x=nodes_health["node"],
                y=held.to_numpy(),
                name="months held",
                marker_color=OKABE_ITO[2],
                customdata=details,
                hovertemplate=(
                    "%{x}: %{y} months held; latest %{customdata[0]}, last sync "
                    "%{customdata[1]}<extra></extra>"
                ),
            ),
            _trace(
                "bar",
                x=nodes_health["node"],
                y=pending,
                name="months pending",
                marker_color=OKABE_ITO[5],
                marker_pattern_shape="x",
            ),
        ]
    )
    return _figure(
        traces, title=title, barmode="stack", yaxis={"title": "months", "rangemode": "tozero"}
    )
