"""Pure evaluation of the federation's pilots: KPIs, profiles and clusters, replication viability.

pandas, numpy and scikit-learn only: no web, no database, no task queue. The hub calls
``run_evaluation`` after ingest; ``carmen evaluate`` calls it on CSV files; a node fits
``CitizenUsageClustering`` on its own citizens. The input tables are documented in
``evaluation.tables``.
"""

from .run import EvaluationConfig, EvaluationResult, evaluate_europe, run_evaluation
from .tables import InputError, load_europe, load_tables
from .usage import CITIZEN_USAGE_FEATURES, CitizenUsageClustering

__all__ = [
    "CITIZEN_USAGE_FEATURES",
    "CitizenUsageClustering",
    "EvaluationConfig",
    "EvaluationResult",
    "InputError",
    "evaluate_europe",
    "load_europe",
    "load_tables",
    "run_evaluation",
]
