"""The dashboards' data layer: the hub's read API as DataFrames, or given frames (bench, tests)."""

from collections.abc import Callable
from typing import Protocol

import numpy as np
import pandas as pd

from dashboards.client import HubClient

NODE_COLUMNS = [
    "node",
    "city",
    "country",
    "population",
    "active",
    "last_sync_at",
    "pending_periods",
    "context",
    "population_shares",
    "suspended_pushes",
    "evaluation_warning",
]
SERVICE_COLUMNS = [
    "node",
    "code",
    "service",
    "template",
    "template_version",
    "cloned_from_node",
    "cloned_from_service",
    "first_period",
    "last_period",
]
CELL_COLUMNS = ["node", "period", "service", "segment", "channel", "measure", "value"]
TABLE_TTL_SECONDS = 300.0
TABLES = ("kpis", "clusters", "viability", "backtest", "backtest_cities", "europe")


class DataSource(Protocol):
    """What the pages read: nodes, services, evaluation tables and stored cells."""

    def nodes(self) -> pd.DataFrame:
        """One row per node: NODE_COLUMNS."""
        ...

    def services(self) -> pd.DataFrame:
        """One row per (node, service code): SERVICE_COLUMNS."""
        ...

    def table(self, name: str) -> pd.DataFrame | None:
        """A table of the latest evaluation, None when the hub has none."""
        ...

    def cells(self, service: str, measure: str) -> pd.DataFrame:
        """Stored cells of one service and measure: CELL_COLUMNS."""
        ...


def _frame(records: list[dict] | None, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records or [])
    for column in columns:
        if column not in frame.columns:
            frame[column] = pd.Series(dtype=object)
    return frame


class HubSource:
    """The hub's read API through a HubClient; frames are built once per cached answer."""

    def __init__(self, client: HubClient, token: str) -> None:
        self.client = client
        self.token = token

    def nodes(self) -> pd.DataFrame:
        """Every node as a frame."""
        return self.client.cached(
            ("frame", "nodes"), lambda: _frame(self.client.nodes(token=self.token), NODE_COLUMNS)
        )

    def services(self) -> pd.DataFrame:
        """Every node's services as a frame."""
        return self.client.cached(
            ("frame", "services"),
            lambda: _frame(self.client.services(token=self.token), SERVICE_COLUMNS),
        )

    def table(self, name: str) -> pd.DataFrame | None:
        """One evaluation table as a frame."""

        def load() -> pd.DataFrame | None:
            rows = self.client.result_table(name, token=self.token)
            return None if rows is None else pd.DataFrame.from_records(rows)

        # Tables change only when the hub runs an evaluation: kept longer than nodes and cells.
        return self.client.cached(("frame", "table", name), load, ttl=TABLE_TTL_SECONDS)

    def cells(self, service: str, measure: str) -> pd.DataFrame:
        """Cells of one service and measure as a frame."""
        return self.client.cached(
            ("frame", "cells", service, measure),
            lambda: _frame(
                self.client.cells(token=self.token, service=service, measure=measure),
                CELL_COLUMNS,
            ),
        )


class FrameSource:
    """Frames given up front, in the shape the hub's API returns (benchmarks, tests)."""

    def __init__(
        self,
        *,
        nodes: pd.DataFrame,
        services: pd.DataFrame,
        tables: dict[str, pd.DataFrame],
        cells: pd.DataFrame,
    ) -> None:
        self._nodes = nodes
        self._services = services
        self._tables = tables
        # Grouped once, as the hub's filtered query would return them.
        self._cells = {key: group for key, group in cells.groupby(["service", "measure"])}

    def nodes(self) -> pd.DataFrame:
        """The given nodes."""
        return self._nodes

    def services(self) -> pd.DataFrame:
        """The given services."""
        return self._services

    def table(self, name: str) -> pd.DataFrame | None:
        """A given table, or None."""
        return self._tables.get(name)

    def cells(self, service: str, measure: str) -> pd.DataFrame:
        """The given cells of one service and measure."""
        return self._cells.get((service, measure), _frame([], CELL_COLUMNS))


_DERIVED: dict[tuple[int, str], tuple[pd.DataFrame, object]] = {}


def derived(frame: pd.DataFrame, key: str, build: Callable[[pd.DataFrame], object]) -> object:
    """build(frame), computed once per frame object (the sources hand out cached frames)."""
    hit = _DERIVED.get((id(frame), key))
    if hit is not None and hit[0] is frame:
        return hit[1]
    value = build(frame)
    if len(_DERIVED) > 256:  # mostly values of older hub answers by now: let them go
        _DERIVED.clear()
    # The frame is kept with the value so that its id cannot be reused by another frame.
    _DERIVED[(id(frame), key)] = (frame, value)
    return value


def _index(frame: pd.DataFrame, column: str) -> tuple[pd.DataFrame, dict[object, slice]]:
    """The frame sorted by column, and where each value's rows start and stop."""
    ordered = frame.sort_values(column, kind="stable")
    codes, uniques = pd.factorize(ordered[column], sort=False)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else []
    stops = [*list(starts[1:]), len(codes)]
    return ordered, {
        uniques[codes[a]]: slice(int(a), int(b)) for a, b in zip(starts, stops, strict=True)
    }


def rows_of(frame: pd.DataFrame, column: str, value: str) -> pd.DataFrame:
    """The rows of a cached frame where column == value, from an index built once per frame."""
    ordered, where = derived(frame, f"by:{column}", lambda f: _index(f, column))
    span = where.get(value)
    return ordered.iloc[span] if span is not None else frame.iloc[0:0]


def distinct(frame: pd.DataFrame, column: str) -> list[str]:
    """The sorted distinct values of a column of a cached frame."""
    return derived(frame, f"distinct:{column}", lambda f: sorted(f[column].dropna().unique()))
