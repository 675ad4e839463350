"""Evaluation runs: request one (debounced), run the evaluation package over the export tables."""

import dataclasses
import functools
import hashlib
import importlib
import json
import logging
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
from federation.hub.evaluations.schemas import EvaluationRunOut, RunAttempt
from federation.hub.nodes.models import Node, StoredSnapshot

log = logging.getLogger(__name__)
PENDING, RUNNING, DONE, FAILED, SKIPPED = "pending", "running", "done", "failed", "skipped"
EVALUATOR = ("evaluation", "run_evaluation")  # the seam: evaluation.run_evaluation(cities, obs)
# The evaluation's checks of one city's rows: validate_cities(cities), validate_observations(obs,
# city_ids=...), raising ValueError. Absent, the hub relies on leaving nodes out on failure.
TABLE_CHECKS = ("evaluation.tables", "validate_cities", "validate_observations")
# Re-runs, each without one recently changed node, to find the node a failed run comes from.
LEAVE_OUT_ATTEMPTS = 5


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


COSTS_SOURCE = "the hub's EVALUATION_COSTS"


def evaluation_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """The EvaluationConfig keywords of a hub: EVALUATION_OPTIONS plus EVALUATION_COSTS."""
    options = dict(config.get("EVALUATION_OPTIONS") or {})
    costs = config.get("EVALUATION_COSTS") or {}
    if costs:
        options["costs"] = {str(k): dict(v) for k, v in costs.items()}
        options["costs_source"] = COSTS_SOURCE
    return options


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
    """Export the tables, call the evaluation package and keep its results on the run.

    A node whose data cannot be evaluated is left out of the run, with a warning, rather than
    failing it for every node: first each node's tables go through the evaluation's own table
    checks; then, if the evaluation still fails, it is tried again without each node whose data
    changed since the last successful run, most recent first.
    """
    cities = aggregates.cities_frame(db_session=db_session)
    observations = aggregates.observations_frame(db_session=db_session)
    warnings = [
        {"node": slug, "message": "suspended: its data is left out until it is resumed"}
        for slug in db_session.scalars(
            sa.select(Node.slug).where(sa.not_(Node.active)).order_by(Node.slug)
        )
    ]
    for slug, problem in _unusable_nodes(cities, observations):
        warnings.append(
            {"node": slug, "message": f"left out: its data cannot be evaluated: {problem}"}
        )
        cities, observations = _without(cities, observations, slug)
    run.warnings = warnings
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

            def evaluate(cities: pd.DataFrame, observations: pd.DataFrame) -> Any:
                return evaluator(cities, observations, seed=run.seed, **extra)

            suspects = _changed_since_last_success(db_session=db_session, run=run)
            result, culprit = _evaluate_isolating(evaluate, cities, observations, suspects)
            if culprit is not None:
                slug, error = culprit
                failure = f"{type(error).__name__}: {error}"
                failure = f"left out: the evaluation fails with its data ({failure})"
                run.warnings = [*warnings, {"node": slug, "message": failure}]
                run.input_digest = _frames_digest(*_without(cities, observations, slug))
            run.results = _jsonable(result)
            run.status = DONE
    except Exception as exc:  # a failed evaluation is recorded, never lost in a worker log
        run.status = FAILED
        run.error = f"{type(exc).__name__}: {exc}"
    run.finished_at = now
    return run


def _without(
    cities: pd.DataFrame, observations: pd.DataFrame, slug: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tables without one node's city and observations."""
    return (
        cities[cities["city_id"] != slug].reset_index(drop=True),
        observations[observations["city_id"] != slug].reset_index(drop=True),
    )


def _unusable_nodes(cities: pd.DataFrame, observations: pd.DataFrame) -> list[tuple[str, str]]:
    """Nodes whose own rows fail the evaluation's table checks, with the problem found."""
    module_name, *names = TABLE_CHECKS
    try:
        module = importlib.import_module(module_name)
        check_cities, check_observations = (getattr(module, name) for name in names)
    except (ImportError, AttributeError):
        return []
    rows = dict(tuple(observations.groupby("city_id", sort=False)))
    found = []
    for slug in cities["city_id"]:
        try:
            check_cities(cities[cities["city_id"] == slug])
            if slug in rows:  # a city without pilots is still judged from its context
                check_observations(rows[slug], city_ids=pd.Series([slug]))
        except ValueError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            column = getattr(exc, "column", None)
            found.append((slug, f"{problem} (column {column})" if column else problem))
        except Exception:  # checks that no longer fit this seam: leaving nodes out on failure
            log.exception("the evaluation's table checks failed; skipping them")
            return found
    return found


def _changed_since_last_success(*, db_session: Session, run: EvaluationRun) -> list[str]:
    """Active nodes enrolled or with a snapshot stored since the last successful run started
    (every active node when none succeeded yet), the most recently changed first."""
    since = db_session.scalar(
        sa.select(EvaluationRun.started_at)
        .where(EvaluationRun.status == DONE, EvaluationRun.id != run.id)
        .order_by(EvaluationRun.id.desc())
        .limit(1)
    )
    changed = sa.func.coalesce(sa.func.max(StoredSnapshot.updated_at), Node.enrolled_at)
    query = (
        sa.select(Node.slug, changed.label("changed"))
        .outerjoin(StoredSnapshot, StoredSnapshot.node_id == Node.id)
        .where(Node.active)
        .group_by(Node.id, Node.slug, Node.enrolled_at)
    )
    rows = db_session.execute(query).all()
    if since is not None:
        rows = [row for row in rows if row.changed > since]
    return [row.slug for row in sorted(rows, key=lambda row: row.changed, reverse=True)]


def _evaluate_isolating(
    evaluate: Callable[[pd.DataFrame, pd.DataFrame], Any],
    cities: pd.DataFrame,
    observations: pd.DataFrame,
    suspects: list[str],
) -> tuple[Any, tuple[str, Exception] | None]:
    """The result, and the node left out with the error its data caused, if one was."""
    try:
        return evaluate(cities, observations), None
    except Exception as exc:
        failure = exc
    for slug in [s for s in suspects if s in set(cities["city_id"])][:LEAVE_OUT_ATTEMPTS]:
        rest = _without(cities, observations, slug)
        if rest[0].empty:
            continue
        try:
            return evaluate(*rest), (slug, failure)
        except Exception:  # not this node's doing (or not only): try the next
            continue
    raise failure


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


def served_run(*, db_session: Session) -> EvaluationRunOut:
    """The run the read API serves: the latest successful one, with the newest finished run
    when that one failed (a failed run never replaces the results served)."""
    run = db_session.scalar(
        sa.select(EvaluationRun)
        .where(EvaluationRun.status == DONE)
        .order_by(EvaluationRun.id.desc())
        .limit(1)
    )
    newest = db_session.scalar(
        sa.select(EvaluationRun)
        .where(
            EvaluationRun.status.in_((FAILED, SKIPPED)), EvaluationRun.id > (run.id if run else 0)
        )
        .order_by(EvaluationRun.id.desc())
        .limit(1)
    )
    if run is None:
        reason = f": the latest run {newest.status} ({newest.error})" if newest else ""
        raise NotFound(f"no evaluation has succeeded yet{reason}")
    out = run_out(run)
    if newest is not None:
        out.latest_attempt = RunAttempt(
            id=newest.id, status=newest.status, finished_at=newest.finished_at, error=newest.error
        )
    return out


def node_warnings(*, db_session: Session) -> dict[str, str]:
    """Per node, why the run served left it out (nodes it used have no entry)."""
    warnings = db_session.scalar(
        sa.select(EvaluationRun.warnings)
        .where(EvaluationRun.status == DONE)
        .order_by(EvaluationRun.id.desc())
        .limit(1)
    )
    return {item["node"]: item["message"] for item in warnings or [] if item.get("node")}


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
        warnings=run.warnings or [],
        results=run.results,
    )


def result_table(run: EvaluationRunOut, table: str) -> dict[str, Any]:
    """One named result table of a run with the run's id, so a reader can tell runs apart."""
    results = run.results or {}
    if table not in results:
        known = ", ".join(sorted(results)) or "none: the run has no results"
        raise NotFound(f"the latest evaluation has no table {table!r} (tables: {known})")
    finished = run.finished_at.isoformat() if run.finished_at else None
    return {
        "run_id": run.id,
        "finished_at": finished,
        "table": table,
        "warnings": run.warnings,
        "rows": results[table],
    }
