"""Evaluation runs: request one (debounced), run the evaluation package over the export tables."""

import dataclasses
import functools
import hashlib
import importlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from federation.hub.aggregates import service as aggregates
from federation.hub.errors import NotFound
from federation.hub.evaluations.models import EvaluationRun
from federation.hub.evaluations.schemas import EvaluationRunOut

PENDING, RUNNING, DONE, FAILED, SKIPPED = "pending", "running", "done", "failed", "skipped"
EVALUATOR = ("evaluation", "run_evaluation")  # the seam: evaluation.run_evaluation(cities, obs)


def request_run(*, db_session: Session, seed: int) -> EvaluationRun | None:
    """Ask for an evaluation; None when one is pending already (it will see the new data)."""
    pending = db_session.scalar(
        sa.select(EvaluationRun.id).where(EvaluationRun.status == PENDING).limit(1)
    )
    if pending is not None:
        return None
    run = EvaluationRun(status=PENDING, seed=seed)
    db_session.add(run)
    db_session.flush()
    return run


def load_evaluator(options: Mapping[str, Any] | None = None) -> Callable[..., Any] | None:
    """evaluation.run_evaluation (with an EvaluationConfig built from options), or None."""
    module_name, function_name = EVALUATOR
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    function = getattr(module, function_name, None)
    if function is None or not options:
        return function
    config = module.EvaluationConfig(**options)
    return functools.partial(function, config=config)


def _frames_digest(cities: pd.DataFrame, observations: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for frame in (cities, observations):
        digest.update(frame.to_csv(index=False).encode("utf-8"))
    return digest.hexdigest()


def _jsonable(value: Any) -> Any:
    """Results as JSON: DataFrames become lists of records, other values pass through pandas."""
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="records", date_format="iso"))
    if isinstance(value, pd.Series):
        return json.loads(value.to_json(date_format="iso"))
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # `files` names local paths of a CLI run; the hub keeps the tables themselves.
        return {
            item.name: _jsonable(getattr(value, item.name))
            for item in dataclasses.fields(value)
            if item.name != "files"
        }
    return json.loads(pd.Series([value]).to_json(orient="values"))[0]


def start_run(*, db_session: Session, run_id: int, now: datetime) -> EvaluationRun | None:
    """Mark a pending run as running; None when it is not pending (done, or taken by another)."""
    run = db_session.get(EvaluationRun, run_id, with_for_update=True)
    if run is None or run.status != PENDING:
        return None
    run.status = RUNNING
    run.started_at = now
    return run


def execute_run(
    *,
    db_session: Session,
    run: EvaluationRun,
    now: datetime,
    evaluator: Callable[..., Any] | None = None,
    options: Mapping[str, Any] | None = None,
    europe_cities_csv: str | Path | None = None,
) -> EvaluationRun:
    """Export the tables, call the evaluation package and keep its results on the run."""
    cities = aggregates.cities_frame(db_session=db_session)
    observations = aggregates.observations_frame(db_session=db_session)
    run.input_digest = _frames_digest(cities, observations)
    try:
        evaluator = evaluator or load_evaluator(options)
        if evaluator is None:
            run.status = SKIPPED
            run.error = "evaluation.run_evaluation is not available in this installation"
        else:
            extra = {}
            if europe_cities_csv:
                # Judged from context alone in every city of the table: the European view.
                extra["europe_cities"] = pd.read_csv(europe_cities_csv)
            run.results = _jsonable(evaluator(cities, observations, seed=run.seed, **extra))
            run.status = DONE
    except Exception as exc:  # a failed evaluation is recorded, never lost in a worker log
        run.status = FAILED
        run.error = f"{type(exc).__name__}: {exc}"
    run.finished_at = now
    return run


def run_now(
    *,
    db_session: Session,
    seed: int,
    now: datetime,
    options: Mapping[str, Any] | None = None,
    europe_cities_csv: str | Path | None = None,
) -> EvaluationRun | None:
    """Evaluate in this process: the run ingest left pending if there is one, else a new one.

    None when a worker has taken the pending run meanwhile (it will see the same data).
    """
    run = (
        request_run(db_session=db_session, seed=seed)
        or db_session.scalars(
            sa.select(EvaluationRun)
            .where(EvaluationRun.status == PENDING)
            .order_by(EvaluationRun.id)
        ).first()
    )
    if run is None or start_run(db_session=db_session, run_id=run.id, now=now) is None:
        return None
    return execute_run(
        db_session=db_session,
        run=run,
        now=now,
        options=options,
        europe_cities_csv=europe_cities_csv,
    )


def latest_run(*, db_session: Session, finished: bool = True) -> EvaluationRunOut:
    """The latest finished run (or the latest of any status)."""
    query = sa.select(EvaluationRun).order_by(EvaluationRun.id.desc()).limit(1)
    if finished:
        query = query.where(EvaluationRun.status.in_((DONE, FAILED, SKIPPED)))
    run = db_session.scalar(query)
    if run is None:
        raise NotFound("no evaluation has run yet")
    return run_out(run)


def run_out(run: EvaluationRun) -> EvaluationRunOut:
    """A run as the read API shows it."""
    return EvaluationRunOut(
        id=run.id,
        status=run.status,
        requested_at=run.requested_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        seed=run.seed,
        input_digest=run.input_digest,
        error=run.error,
        results=run.results,
    )


def result_table(run: EvaluationRunOut, table: str) -> dict[str, Any]:
    """One named result table of a run with the run's id, so a reader can tell runs apart."""
    results = run.results or {}
    if table not in results:
        known = ", ".join(sorted(results)) or "none: the run has no results"
        raise NotFound(f"the latest evaluation has no table {table!r} (tables: {known})")
    finished = run.finished_at.isoformat() if run.finished_at else None
    return {"run_id": run.id, "finished_at": finished, "table": table, "rows": results[table]}
