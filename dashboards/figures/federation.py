"""The Federation page's builders: nodes' health, services and their provenance, sync."""

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.base import (
    OKABE_ITO,
    empty_figure,
    listed,
    make_figure,
    month_number,
    trace,
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
        return empty_figure(title, "No node enrolled yet")
    held = pd.Series(0, index=nodes_health["node"])
    if not services.empty:
        first = month_number(services["first_period"]).groupby(services["node"]).min()
        last = month_number(services["last_period"]).groupby(services["node"]).max()
        held = (last - first + 1).reindex(nodes_health["node"]).fillna(0).astype(int)
    pending = [len(p.split(", ")) if p else 0 for p in nodes_health["pending_periods"]]
    details = nodes_health[["latest_period", "last_sync_at"]].fillna("none").to_numpy()
    traces = listed(
        [
            trace(
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
            trace(
                "bar",
                x=nodes_health["node"],
                y=pending,
                name="months pending",
                marker_color=OKABE_ITO[5],
                marker_pattern_shape="x",
            ),
        ]
    )
    return make_figure(
        traces, title=title, barmode="stack", yaxis={"title": "months", "rangemode": "tozero"}
    )
