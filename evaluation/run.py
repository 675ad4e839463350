"""The whole evaluation in one call: KPIs, profiles and clusters, viability, back-test, Europe."""

import json
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .kpis import PILOT, build_cells, compute_kpis
from .profiles import CityClustering, city_profiles
from .tables import (
    CHANNELS,
    SEGMENTS,
    SHARE_COLUMNS,
    context_columns,
    validate_cities,
    validate_europe,
    validate_observations,
)
from .viability import (
    GROUP_COLUMN,
    NOT_VIABLE,
    PILOT_FIRST,
    REPLICATE,
    Backtest,
    JudgementSettings,
    backtest,
    context_frame,
    judge,
    spearman,
    target_uptake,
    training_set,
)

Progress = Callable[[str, int, int], None]
"""Called as ``progress(step, done, total)`` while the evaluation runs."""

CRITERIA = {
    "spearman_min": 0.7,
    "coverage_min": 0.8,
    "beats": ["global mean of pilot cities", "nearest pilot city on context"],
}


@dataclass(frozen=True)
class EvaluationConfig:
    """Settings of the evaluation.

    Parameters
    ----------
    level : float
        Coverage of every uncertainty band (0.9: the central 90%).
    pilot_window : int
        The pilot's uptake is the mean of its last ``pilot_window`` periods.
    resamples : int
        Bootstrap resamples of pilot cities for the viability bands.
    backtest_resamples : int
        Bootstrap resamples per held-out city in the back-test.
    backtest_max_cities : int
        At most this many held-out cities per service in the back-test (a seeded sample).
    ridge_alpha : float
        Ridge penalty on the context effects.
    target_uptake_ratio : float
        A city must reach this fraction of the median pilot uptake of the service ...
    target_uptake : float or None
        ... or, when given, this uptake (citizens per 1,000 per month) for every service.
    threshold_replicate : float
        Score (probability of reaching the target) from which the verdict is ``replicate``.
    threshold_pilot : float
        Score from which the verdict is ``pilot first`` (below it: ``not viable``).
    min_pilots : int
        Fewer pilot cities than this and the service is not judged (``pilot first``).
    k_min, k_max : int
        Range of city cluster counts tried (chosen by silhouette).
    """

    level: float = 0.9
    pilot_window: int = 6
    resamples: int = 200
    backtest_resamples: int = 40
    backtest_max_cities: int = 60
    ridge_alpha: float = 1.0
    target_uptake_ratio: float = 0.5
    target_uptake: float | None = None
    threshold_replicate: float = 0.8
    threshold_pilot: float = 0.4
    min_pilots: int = 3
    k_min: int = 2
    k_max: int = 8

    def __post_init__(self) -> None:
        if not 0 < self.level < 1:
            raise ValueError(f"level must be between 0 and 1, not {self.level}")
        if not 0 <= self.threshold_pilot <= self.threshold_replicate <= 1:
            raise ValueError(
                "thresholds must satisfy 0 <= threshold_pilot <= threshold_replicate <= 1 "
                f"(got pilot {self.threshold_pilot}, replicate {self.threshold_replicate})"
            )
        if self.resamples < 10 or self.backtest_resamples < 10:
            raise ValueError("resamples and backtest_resamples must be at least 10")
        if self.min_pilots < 2:
            raise ValueError("min_pilots must be at least 2")

    def judgement(self) -> JudgementSettings:
        """The settings the viability judgement needs."""
        names = JudgementSettings.__dataclass_fields__
        return JudgementSettings(**{k: v for k, v in asdict(self).items() if k in names})


@dataclass
class EvaluationResult:
    """Everything the evaluation found.

    Attributes
    ----------
    kpis : DataFrame
        ``service``, ``city_id``, ``period`` (``YYYY-MM`` or ``pilot``), then ``<kpi>``,
        ``<kpi>_low``, ``<kpi>_high`` for each KPI of ``evaluation.kpis``.
    clusters : DataFrame
        ``city_id``, ``cluster``, ``x``, ``y`` (2-D projection), then the profile: context,
        ``share_<segment>``, ``users_<segment>``, ``channel_<channel>``, ``usage_level``.
    viability : DataFrame
        ``service``, ``city_id``, ``expected_uptake``, ``low``, ``high``, ``score``,
        ``verdict``, ``drivers`` (JSON text: ``pilots``, ``segments``, ``context``).
    backtest : DataFrame
        Per service and ``overall``: ``cities``, ``spearman``, ``spearman_nearest``, ``mae``,
        ``mae_global_mean``, ``mae_nearest``, ``coverage``, ``beats_baselines``.
    backtest_cities : DataFrame
        Each held-out pilot: ``service``, ``city_id``, ``truth``, ``predicted``, ``low``,
        ``high``, ``global_mean``, ``nearest``.
    report : dict
        The summary written to ``report.json``.
    europe : DataFrame or None
        With ``europe_cities``: ``service``, ``city``, ``country``, ``population``,
        ``expected_uptake``, ``low``, ``high``, ``score``, ``verdict``, ``extrapolated`` (the
        city's context lies outside the range the pilot cities span).
    """

    kpis: pd.DataFrame
    clusters: pd.DataFrame
    viability: pd.DataFrame
    backtest: pd.DataFrame
    backtest_cities: pd.DataFrame
    report: dict
    europe: pd.DataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The results as named tables and the report, ready for a JSON store.

        Returns
        -------
        dict
            ``report`` (dict) and ``kpis``, ``clusters``, ``viability``, ``backtest``,
            ``backtest_cities`` and, with Europe, ``europe`` (DataFrames).
        """
        out: dict[str, object] = {
            "report": self.report,
            "viability": self.viability,
            "backtest": self.backtest,
            "backtest_cities": self.backtest_cities,
            "clusters": self.clusters,
            "kpis": self.kpis,
        }
        if self.europe is not None:
            out["europe"] = self.europe
        return out

    # Serialisers that know namedtuples (the hub's does) read a result through `_asdict`.
    _asdict = to_dict

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``kpis.csv``, ``clusters.csv``, ``viability.csv``, ``backtest.csv``,
        ``backtest_cities.csv``, ``report.json`` and (with Europe) ``europe.csv``.

        Parameters
        ----------
        out_dir : str or Path
            The folder (created if missing).

        Returns
        -------
        dict of str to Path
            Each file written.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        tables = {
            "kpis.csv": self.kpis,
            "clusters.csv": self.clusters,
            "viability.csv": self.viability,
            "backtest.csv": self.backtest,
            "backtest_cities.csv": self.backtest_cities,
        }
        if self.europe is not None:
            tables["europe.csv"] = self.europe
        for name, table in tables.items():
            table.to_csv(out / name, index=False, float_format="%.6g")
            self.files[name] = out / name
        path = out / "report.json"
        path.write_text(json.dumps(self.report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        self.files["report.json"] = path
        return dict(self.files)


def _rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator per (seed, part): adding a service does not change another's draws."""
    return np.random.default_rng([seed, *(zlib.crc32(p.encode()) for p in parts)])


def _clean(value: object) -> object:
    """Make a value JSON-safe: NaN becomes None, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _noop(step: str, done: int, total: int) -> None:
    return None


def run_evaluation(
    cities: pd.DataFrame,
    observations: pd.DataFrame,
    *,
    config: EvaluationConfig | None = None,
    seed: int = 0,
    europe_cities: pd.DataFrame | None = None,
    progress: Progress | None = None,
    warnings: list[str] | None = None,
) -> EvaluationResult:
    """Evaluate every piloted service: KPIs, clusters, viability everywhere, back-test.

    Parameters
    ----------
    cities : DataFrame
        ``cities.csv`` (columns in ``evaluation.tables``); validated here.
    observations : DataFrame
        ``observations.csv`` (long form); validated here.
    config : EvaluationConfig, optional
        Thresholds, band level, resamples (defaults when omitted).
    seed : int
        Seed of every random choice: the same inputs and seed give the same output.
    europe_cities : DataFrame, optional
        A Europe-wide city table (columns of ``carmen/data/eu_cities.csv``) to judge every
        service in from context alone.
    progress : callable, optional
        ``progress(step, done, total)``, called as the work advances.
    warnings : list of str, optional
        Warnings found while the tables were loaded (``load_tables(..., warnings=...)``); they
        lead the report's ``warnings``.

    Returns
    -------
    EvaluationResult
        The tables and the report; ``write(out_dir)`` saves them.

    Raises
    ------
    InputError
        When a table is unusable (the message names the file, row and column).
    """
    # One thread for BLAS and OpenMP: the arrays are small, so extra threads only fight over
    # shared cores (k-means ran 30x slower under load), and the sums stay in one order.
    with threadpool_limits(limits=1):
        return _run(
            cities,
            observations,
            config=config or EvaluationConfig(),
            seed=seed,
            europe_cities=europe_cities,
            progress=progress or _noop,
            warnings=list(warnings or []),
        )


def _run(
    cities: pd.DataFrame,
    observations: pd.DataFrame,
    *,
    config: EvaluationConfig,
    seed: int,
    europe_cities: pd.DataFrame | None,
    progress: Progress,
    warnings: list[str],
) -> EvaluationResult:
    settings = config.judgement()
    tick = progress  # called as tick(step, done, total)
    tick("checking the tables", 0, 1)
    cities = validate_cities(cities)
    observations = validate_observations(
        observations, city_ids=cities["city_id"], warnings=warnings
    )
    if europe_cities is not None:
        europe_cities = validate_europe(europe_cities)
    tick("computing KPIs", 0, 1)
    cells = build_cells(cities, observations)
    kpi = compute_kpis(cities, cells, level=config.level, pilot_window=config.pilot_window)
    context = context_columns(cities)
    by_segment = all(c in cities.columns for c in SHARE_COLUMNS)

    tick("clustering cities", 0, 1)
    profile = city_profiles(cities, cells, kpi, context)
    features = profile.drop(columns=["city_id"])
    features = features.loc[:, features.notna().any()]
    clustering = CityClustering(k_min=config.k_min, k_max=config.k_max, random_state=seed)
    clustering.fit(features.to_numpy(dtype=float))
    clusters = pd.DataFrame(
        {
            "city_id": profile["city_id"],
            "cluster": clustering.labels_,
            "x": clustering.embedding_[:, 0],
            "y": clustering.embedding_[:, 1],
        }
    )
    clusters = pd.concat([clusters, profile.drop(columns=["city_id"])], axis=1)

    services = sorted(kpi.pilots["service"].unique())
    context_all = context_frame(cities, context)
    if by_segment:
        shares_all = cities[list(SHARE_COLUMNS)].to_numpy(dtype=float)
        has_shares = np.isfinite(shares_all).all(axis=1)
    else:
        shares_all = np.ones((len(cities), 1))
        has_shares = np.zeros(len(cities), dtype=bool)
    countries = cities[GROUP_COLUMN].astype(str).to_numpy() if GROUP_COLUMN in cities else None
    viability_frames, backtests, backtest_rows, service_rows = [], [], [], []
    for done, service in enumerate(services):
        tick("judging services", done, len(services))
        judged, result, summary = _judge_service(
            service,
            pilots=kpi.pilots[kpi.pilots["service"] == service],
            cities=cities,
            context=context,
            context_all=context_all,
            shares_all=shares_all,
            has_shares=has_shares,
            countries=countries,
            by_segment=by_segment,
            settings=settings,
            seed=seed,
        )
        viability_frames += judged
        service_rows.append(summary)
        if result is not None:
            backtests.append((service, result))
            backtest_rows.append(
                pd.DataFrame(
                    {
                        "service": service,
                        "city_id": result.city_ids,
                        "truth": result.truth,
                        "predicted": result.predicted,
                        "low": result.low,
                        "high": result.high,
                        "global_mean": result.global_mean,
                        "nearest": result.nearest,
                    }
                )
            )
    tick("judging services", len(services), len(services))
    viability = (
        pd.concat(viability_frames, ignore_index=True) if viability_frames else _empty_viability()
    )
    viability = viability.sort_values(["service", "city_id"], kind="stable", ignore_index=True)
    backtest_table, backtest_cities = _backtest_tables(backtests, backtest_rows)

    europe = None
    europe_summary = None
    if europe_cities is not None:
        tick("judging Europe", 0, 1)
        europe, europe_summary = _europe(
            trainings_by_service=kpi.pilots,
            cities=cities,
            europe_cities=europe_cities,
            context=context,
            settings=settings,
            seed=seed,
            progress=tick,
        )

    report = _report(
        cities=cities,
        observations=observations,
        cells_periods=cells.keys["period"],
        config=config,
        seed=seed,
        context=context,
        by_segment=by_segment,
        clustering=clustering,
        backtest_table=backtest_table,
        service_rows=service_rows,
        europe_summary=europe_summary,
        input_warnings=warnings,
    )
    tick("done", 1, 1)
    return EvaluationResult(
        kpis=kpi.kpis,
        clusters=clusters,
        viability=viability,
        backtest=backtest_table,
        backtest_cities=backtest_cities,
        report=report,
        europe=europe,
    )


def _judge_service(
    service: str,
    *,
    pilots: pd.DataFrame,
    cities: pd.DataFrame,
    context: list[str],
    context_all: pd.DataFrame,
    shares_all: np.ndarray,
    has_shares: np.ndarray,
    countries: np.ndarray | None,
    by_segment: bool,
    settings: JudgementSettings,
    seed: int,
) -> tuple[list[pd.DataFrame], Backtest | None, dict]:
    """Judge one service in every city that has not piloted it, and back-test it."""
    train = training_set(pilots, cities, context, by_segment=by_segment)
    piloted = np.zeros(len(cities), dtype=bool)
    piloted[pilots["city_index"].to_numpy()] = True
    targets = np.flatnonzero(~piloted)
    # Cities with their age shares get the age-band model; the others, context alone.
    judged: list[pd.DataFrame] = []
    for segmented in (True, False):
        chosen = targets[has_shares[targets] == segmented]
        if chosen.size == 0:
            continue
        model_train = (
            train
            if segmented or not by_segment
            else training_set(pilots, cities, context, by_segment=False)
        )
        judgement = judge(
            model_train,
            context_all.iloc[chosen].reset_index(drop=True),
            shares_all[chosen] if segmented else np.ones((chosen.size, 1)),
            context,
            settings=settings,
            rng=_rng(seed, "viability", service, str(segmented)),
            target_groups=countries[chosen] if countries is not None else None,
        )
        judged.append(
            pd.DataFrame(
                {
                    "service": service,
                    "city_id": cities["city_id"].to_numpy()[chosen],
                    "expected_uptake": judgement.expected,
                    "low": judgement.low,
                    "high": judgement.high,
                    "score": judgement.score,
                    "verdict": judgement.verdict,
                    "drivers": judgement.drivers,
                }
            )
        )
    result = backtest(train, context, settings=settings, rng=_rng(seed, "backtest", service))
    verdict = pd.concat(judged)["verdict"].to_numpy() if judged else np.array([])
    known = len(train.uptake) > 0
    summary = {
        "service": service,
        "pilot_cities": len(pilots),
        "pilot_cities_with_uptake": len(train.uptake),
        "target_uptake": target_uptake(train, settings) if known else None,
        "median_pilot_uptake": float(np.median(train.uptake)) if known else None,
        "cities_judged": len(targets),
        REPLICATE: int((verdict == REPLICATE).sum()),
        PILOT_FIRST: int((verdict == PILOT_FIRST).sum()),
        NOT_VIABLE: int((verdict == NOT_VIABLE).sum()),
    }
    return judged, result, summary


def _empty_viability() -> pd.DataFrame:
    columns = [
        "service",
        "city_id",
        "expected_uptake",
        "low",
        "high",
        "score",
        "verdict",
        "drivers",
    ]
    return pd.DataFrame(columns=columns)


def _backtest_tables(
    backtests: list[tuple[str, Backtest]], rows: list[pd.DataFrame]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-service and overall back-test table, and the per-city detail."""
    records = []
    for service, bt in backtests:
        records.append(
            _backtest_record(
                service, bt.truth, bt.predicted, bt.low, bt.high, bt.global_mean, bt.nearest
            )
        )
    columns = [
        "service",
        "cities",
        "spearman",
        "spearman_nearest",
        "mae",
        "mae_global_mean",
        "mae_nearest",
        "coverage",
        "beats_baselines",
    ]
    table = pd.DataFrame(records, columns=columns)
    detail = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(
            columns=[
                "service",
                "city_id",
                "truth",
                "predicted",
                "low",
                "high",
                "global_mean",
                "nearest",
            ]
        )
    )
    if records:
        overall = {
            "service": "overall",
            "cities": int(table["cities"].sum()),
            # Spearman is a within-service ranking: the overall figure averages the services.
            "spearman": float(table["spearman"].mean()),
            "spearman_nearest": float(table["spearman_nearest"].mean()),
            "mae": float(np.mean(np.abs(detail["predicted"] - detail["truth"]))),
            "mae_global_mean": float(np.mean(np.abs(detail["global_mean"] - detail["truth"]))),
            "mae_nearest": float(np.mean(np.abs(detail["nearest"] - detail["truth"]))),
            "coverage": float(
                ((detail["low"] <= detail["truth"]) & (detail["truth"] <= detail["high"])).mean()
            ),
        }
        overall["beats_baselines"] = _beats(overall)
        table = pd.concat([table, pd.DataFrame([overall])], ignore_index=True)
    return table, detail


def _beats(record: dict) -> bool:
    """Lower MAE than both baselines and a better ranking than the nearest pilot."""
    ranks_better = not (record["spearman_nearest"] > record["spearman"])  # NaN nearest: no contest
    return bool(
        record["mae"] < record["mae_global_mean"]
        and record["mae"] < record["mae_nearest"]
        and ranks_better
    )


def _backtest_record(
    service: str,
    truth: np.ndarray,
    predicted: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    global_mean: np.ndarray,
    nearest: np.ndarray,
) -> dict:
    """Spearman, MAE and coverage of one service's back-test, against both baselines."""
    record = {
        "service": service,
        "cities": len(truth),
        "spearman": spearman(predicted, truth),
        "spearman_nearest": spearman(nearest, truth),
        "mae": float(np.mean(np.abs(predicted - truth))),
        "mae_global_mean": float(np.mean(np.abs(global_mean - truth))),
        "mae_nearest": float(np.mean(np.abs(nearest - truth))),
        "coverage": float(np.mean((low <= truth) & (truth <= high))),
    }
    record["beats_baselines"] = _beats(record)
    return record


def _europe(
    *,
    trainings_by_service: pd.DataFrame,
    cities: pd.DataFrame,
    europe_cities: pd.DataFrame,
    context: list[str],
    settings: JudgementSettings,
    seed: int,
    progress: Progress,
) -> tuple[pd.DataFrame, list[dict]]:
    """Judge every service in every city of a Europe-wide table, from context alone."""
    shared = [c for c in context if c in europe_cities.columns]
    targets = context_frame(europe_cities, shared)
    ones = np.ones((len(europe_cities), 1))
    frames, summary = [], []
    services = sorted(trainings_by_service["service"].unique())
    for done, service in enumerate(services):
        progress("judging Europe", done, len(services))
        rows = trainings_by_service[trainings_by_service["service"] == service]
        train = training_set(rows, cities, shared, by_segment=False)
        judgement = judge(
            train,
            targets,
            ones,
            shared,
            settings=settings,
            rng=_rng(seed, "europe", service),
            with_drivers=False,
            target_groups=europe_cities["country"].astype(str).to_numpy(),
        )
        pilot_context = context_frame(cities.iloc[rows["city_index"].to_numpy()], shared)
        low_end, high_end = pilot_context.min(), pilot_context.max()
        # Outside the range the pilots span, the model extrapolates: say so next to the band.
        outside = ((targets < low_end) | (targets > high_end)).any(axis=1).to_numpy()
        frame = pd.DataFrame(
            {
                "service": service,
                "city": europe_cities["city"].to_numpy(),
                "country": europe_cities["country"].to_numpy(),
                "population": europe_cities["population"].round().astype("int64").to_numpy(),
                "expected_uptake": judgement.expected,
                "low": judgement.low,
                "high": judgement.high,
                "score": judgement.score,
                "verdict": judgement.verdict,
                "extrapolated": outside,
            }
        )
        frames.append(frame)
        summary.append(europe_summary(frame, service))
    progress("judging Europe", len(services), len(services))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return table, summary


def europe_summary(frame: pd.DataFrame, service: str) -> dict:
    """Population, cities and countries for which a service is viable, with the sentence.

    Parameters
    ----------
    frame : DataFrame
        The service's rows of the Europe table.
    service : str
        The service.

    Returns
    -------
    dict
        ``viable_population``, ``viable_cities``, ``viable_countries``, the same for
        ``pilot first``, and ``sentence``.
    """
    viable = frame[frame["verdict"] == REPLICATE]
    maybe = frame[frame["verdict"] == PILOT_FIRST]
    people = float(viable["population"].sum())
    towns = len(viable)
    countries = int(viable["country"].nunique())
    return {
        "service": service,
        "viable_population": people,
        "viable_cities": towns,
        "viable_countries": countries,
        "pilot_first_population": float(maybe["population"].sum()),
        "pilot_first_cities": len(maybe),
        "sentence": (
            f"{service}: viable for {people / 1e6:.1f} million people in {towns} cities "
            f"across {countries} countries"
        ),
    }


def evaluate_europe(
    cities: pd.DataFrame,
    observations: pd.DataFrame,
    europe_cities: pd.DataFrame,
    *,
    config: EvaluationConfig | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, list[dict]]:
    """Judge every piloted service in every city of a Europe-wide table from context alone.

    Parameters
    ----------
    cities, observations : DataFrame
        The federation's tables (as for ``run_evaluation``).
    europe_cities : DataFrame
        ``city``, ``country``, ``population`` and context columns named as in ``cities``
        (``carmen/data/eu_cities.csv`` has them). It has no segment shares, so the model uses
        context alone and its bands are wider.
    config : EvaluationConfig, optional
        Thresholds and band settings.
    seed : int
        Seed of the resampling.

    Returns
    -------
    tuple
        The Europe table (one row per service and city) and one summary dict per service
        (``sentence``: "viable for N million people in M cities across K countries").
    """
    config = config or EvaluationConfig()
    with threadpool_limits(limits=1):
        return _evaluate_europe(cities, observations, europe_cities, config=config, seed=seed)


def _evaluate_europe(
    cities: pd.DataFrame,
    observations: pd.DataFrame,
    europe_cities: pd.DataFrame,
    *,
    config: EvaluationConfig,
    seed: int,
) -> tuple[pd.DataFrame, list[dict]]:
    cities = validate_cities(cities)
    observations = validate_observations(observations, city_ids=cities["city_id"])
    europe_cities = validate_europe(europe_cities)
    cells = build_cells(cities, observations)
    kpi = compute_kpis(cities, cells, level=config.level, pilot_window=config.pilot_window)
    return _europe(
        trainings_by_service=kpi.pilots,
        cities=cities,
        europe_cities=europe_cities,
        context=context_columns(cities),
        settings=config.judgement(),
        seed=seed,
        progress=_noop,
    )


def _report(
    *,
    cities: pd.DataFrame,
    observations: pd.DataFrame,
    cells_periods: pd.Series,
    config: EvaluationConfig,
    seed: int,
    context: list[str],
    by_segment: bool,
    clustering: CityClustering,
    backtest_table: pd.DataFrame,
    service_rows: list[dict],
    europe_summary: list[dict] | None,
    input_warnings: list[str],
) -> dict:
    overall = backtest_table[backtest_table["service"] == "overall"]
    per_service = backtest_table[backtest_table["service"] != "overall"]
    warnings = list(input_warnings)
    for column in context:
        known = int(cities[column].notna().sum())
        if 0 < known < len(cities):
            warnings.append(
                f"cities.csv: context column '{column}' is known for {known} of {len(cities)} "
                "cities; the others are judged on the figures they have"
            )
        elif known == 0:
            warnings.append(f"cities.csv: context column '{column}' is empty for every city")
    for row in service_rows:
        if row["pilot_cities_with_uptake"] < config.min_pilots:
            warnings.append(
                f"{row['service']}: only {row['pilot_cities_with_uptake']} pilot cities with a "
                f"known uptake (at least {config.min_pilots} needed): not judged, every city "
                "'pilot first'"
            )
    if not by_segment:
        warnings.append(
            "cities.csv has no share_<segment> columns: uptake was modelled on context alone"
        )
    if not context:
        warnings.append("cities.csv has no context columns: only log population informs the model")
    trust = None
    if len(overall):
        o = overall.iloc[0]
        trust = (
            f"Leaving each pilot city out in turn, the expected uptake ranked the held-out cities "
            f"with Spearman {o['spearman']:.2f} on average per service (criterion >= "
            f"{CRITERIA['spearman_min']}), erred by {o['mae']:.2f} citizens per 1,000 per month "
            f"(global mean {o['mae_global_mean']:.2f}, nearest pilot {o['mae_nearest']:.2f}) and "
            f"its {config.level:.0%} bands held the truth {o['coverage']:.0%} of the time "
            f"(criterion >= {CRITERIA['coverage_min']:.0%})."
        )
    periods = sorted(set(cells_periods))
    report = {
        "seed": seed,
        "config": asdict(config),
        "inputs": {
            "cities": len(cities),
            "services": len(service_rows),
            "pilots": int(sum(r["pilot_cities"] for r in service_rows)),
            "observations": len(observations),
            "periods": [periods[0], periods[-1]] if periods else [],
            "context_columns": context,
            "segments": list(SEGMENTS) if by_segment else [],
            "channels": list(CHANNELS),
        },
        "method": {
            "kpis": "see evaluation.kpis: Poisson, t, Wilson, Bhatia-Davis and quantile-rank bands",
            "clusters": (
                f"k-means over standardised context and usage profiles; k chosen by the "
                f"silhouette score among {config.k_min}..{config.k_max}; 2-D projection by PCA"
            ),
            "viability": (
                "post-stratification of age-band uptake by the target city's age mix, each band "
                "modelled on standardised context (ridge, log scale)"
                if by_segment
                else "whole uptake modelled on standardised context (ridge, log scale)"
            ),
            "bands": (
                f"central {config.level:.0%} of {config.resamples} bootstrap refits over pilot "
                "cities, each times a random leave-one-out city residual"
            ),
            "score": (
                "share of the band's draws reaching the target uptake (target: "
                + (
                    f"{config.target_uptake} per 1,000 per month"
                    if config.target_uptake is not None
                    else f"{config.target_uptake_ratio:g} x the service's median pilot uptake"
                )
                + ")"
            ),
            "verdict": (
                f"{REPLICATE} when score >= {config.threshold_replicate}, {PILOT_FIRST} when "
                f">= {config.threshold_pilot}, else {NOT_VIABLE}"
            ),
            "europe": "context alone (no age shares in the Eurostat table), hence wider bands",
        },
        "criteria": CRITERIA,
        "backtest": {
            "overall": overall.iloc[0].to_dict() if len(overall) else None,
            "services": per_service.to_dict(orient="records"),
            "trust": trust,
        },
        "clusters": {
            "criterion": "silhouette",
            "k": clustering.n_clusters_,
            "scores": clustering.silhouette_scores_,
        },
        "services": service_rows,
        "warnings": warnings,
    }
    if europe_summary is not None:
        report["europe"] = europe_summary
    return _clean(report)


__all__ = [
    "PILOT",
    "EvaluationConfig",
    "EvaluationResult",
    "europe_summary",
    "evaluate_europe",
    "run_evaluation",
]
