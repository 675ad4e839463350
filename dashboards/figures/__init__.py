"""Pure figure and table builders: DataFrames in, plotly figures or DataFrames out (no Dash).

One module per page (`services`, `profiles`, `replication`, `validation`, `federation`) over
`base`, which holds what they share; the pages and the tests read them all from here.
"""

from dashboards.figures.base import (
    AFTER,
    KPI_LABELS,
    MAX_BARS,
    MAX_HEIGHT,
    OKABE_ITO,
    PHASES,
    PILOT,
    SEGMENTS,
    SEQUENTIAL,
    TO_COME,
    VERDICT_COLOURS,
    VERDICT_SYMBOLS,
    kpi_label,
    monthly_kpis,
    pilot_kpis,
)
from dashboards.figures.federation import (
    nodes_table,
    services_table,
    sync_figure,
)
from dashboards.figures.profiles import (
    cluster_map,
    cluster_mix,
    cluster_profile,
)
from dashboards.figures.replication import (
    backtest_figure,
    backtest_summary,
    clone_command,
    clone_source,
    drivers_figure,
    europe_figure,
    europe_summary,
    parse_drivers,
    ranking,
    ranking_figure,
    target_sentence,
)
from dashboards.figures.services import (
    channel_mix,
    channel_totals,
    kpi_heatmap,
    kpi_series,
    segment_reach,
)
from dashboards.figures.validation import (
    phase_figure,
    phase_of,
    phase_table,
    timeline_figure,
    timeline_table,
    with_phases,
)

__all__ = [
    "AFTER",
    "KPI_LABELS",
    "MAX_BARS",
    "MAX_HEIGHT",
    "OKABE_ITO",
    "PHASES",
    "PILOT",
    "SEGMENTS",
    "SEQUENTIAL",
    "TO_COME",
    "VERDICT_COLOURS",
    "VERDICT_SYMBOLS",
    "backtest_figure",
    "backtest_summary",
    "channel_mix",
    "channel_totals",
    "clone_command",
    "clone_source",
    "cluster_map",
    "cluster_mix",
    "cluster_profile",
    "drivers_figure",
    "europe_figure",
    "europe_summary",
    "kpi_heatmap",
    "kpi_label",
    "kpi_series",
    "monthly_kpis",
    "nodes_table",
    "parse_drivers",
    "phase_figure",
    "phase_of",
    "phase_table",
    "pilot_kpis",
    "ranking",
    "ranking_figure",
    "segment_reach",
    "services_table",
    "sync_figure",
    "target_sentence",
    "timeline_figure",
    "timeline_table",
    "with_phases",
]
