"""The Validation page's builders: pilot phases and the 18-month timeline."""

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.base import (
    AFTER,
    MAX_BARS,
    MAX_HEIGHT,
    OKABE_ITO,
    PHASES,
    TO_COME,
    empty_figure,
    kpi_label,
    make_figure,
    month_number,
    monthly_kpis,
    trace,
)


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
    number = month_number(rows["period"])
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
        return empty_figure(title, f"No monthly KPI for {service}")
    traces: list[dict[str, Any]] = []
    phases = [p for p in (*PHASES, AFTER) if p in set(table["phase"])]
    if table["city_id"].nunique() > MAX_BARS:
        # Too many cities for a bar each: the spread of cities within each phase.
        for i, phase in enumerate(phases):
            rows = table[table["phase"] == phase]
            traces.append(
                trace(
                    "box",
                    y=rows[kpi],
                    name=phase,
                    text=rows["city_id"],
                    marker_color=OKABE_ITO[(i + 4) % len(OKABE_ITO)],
                    boxpoints="outliers",
                )
            )
        return make_figure(
            traces,
            title=title + f" ({table['city_id'].nunique()} cities)",
            yaxis_title=kpi_label(kpi),
            showlegend=False,
        )
    for i, phase in enumerate(phases):
        rows = table[table["phase"] == phase]
        traces.append(
            trace(
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
    return make_figure(
        traces, title=title, barmode="group", xaxis_title="city", yaxis_title=kpi_label(kpi)
    )


def timeline_table(services: pd.DataFrame, *, service: str | None = None) -> pd.DataFrame:
    """Each pilot's months as phases: city, service, phase, first and last month of the phase."""
    rows = services if service is None else services[services["service"] == service]
    columns = ["node", "service", "phase", "start", "end"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    first = month_number(rows["first_period"]).to_numpy()
    last = month_number(rows["last_period"]).to_numpy()
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
        return empty_figure(title, "No pilot yet")
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
            trace(
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
    return make_figure(
        traces,
        title=title,
        barmode="overlay",
        xaxis={"type": "date", "title": "month"},
        height=min(MAX_HEIGHT, max(300, 24 * labels.nunique() + 140)),
    )
