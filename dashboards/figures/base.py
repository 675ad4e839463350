"""What every figure builder shares: the palette, the KPI labels and a fast plain-dict figure."""

from typing import Any

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


def plain(value: Any) -> Any:
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
        return {key: plain(item) for key, item in value.items()}
    return value


def nest(props: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
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


def trace(kind: str, **props: Any) -> dict[str, Any]:
    """One trace as a plain dict."""
    return {"type": kind, **plain(nest(props, ("marker",)))}


def listed(traces: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return traces if isinstance(traces, list) else [traces]


def title_text(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


def make_figure(traces: list[dict[str, Any]], **layout: Any) -> go.Figure:
    """A figure from plain dicts, on the dashboard's template, without plotly's validation.

    Validating every property of every trace took most of a callback's time; the builders
    spell out plotly's canonical form instead (titles as {"text": ...}), and the unit tests
    read the figures back.
    """
    merged = {**LAYOUT, **nest(layout, ("xaxis", "yaxis"))}
    merged["title"] = title_text(merged.get("title"))
    for name, axis in merged.items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict) and "title" in axis:
            axis["title"] = title_text(axis["title"])
    return go.Figure(data=traces, layout=merged, _validate=False)


def empty_figure(title: str, message: str) -> go.Figure:
    return make_figure(
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


def month_number(period: pd.Series) -> pd.Series:
    """Months since year 0 of YYYY-MM periods."""
    return period.str[:4].astype(int) * 12 + period.str[5:7].astype(int) - 1
