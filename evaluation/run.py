"""The whole evaluation in one call: KPIs, profiles and clusters, viability, back-test, Europe."""

import json
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from . import replication
from .costs import CostModel, cost_model, template_costs
from .kpis import PILOT, build_cells, compute_kpis
from .profiles import CityClustering, city_profiles
from .replication import Settings
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

# What the back-test must show, as docs/evaluation.md states it: the ranking clearly better than
# copying the nearest pilot city, and bands that hold about their nominal share of the truths.
# (The knowable ceiling needs a world's hidden truth: bench/judgement.py measures it.)
CRITERIA = {
    "spearman_above_nearest_min": 0.2,
    "coverage_range": [0.85, 0.95],
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
        Ridge penalty on the context effects of the per-service model (``model="context"``).
    target_uptake_ratio : float or None
        When given, a city must reach this fraction of the median pilot uptake of the service
        instead of the break-even uptake of the cost model ...
    target_uptake : float or None
        ... or, when given, this uptake (citizens per 1,000 per month) for every service.
    costs : dict or None
        Cost figures that replace the templates' (``evaluation.costs``): per service, or
        ``default`` for all, e.g. ``{"default": {"monthly": 2000}}``.
    costs_source : str
        Where ``costs`` come from, named wherever the target is stated.
    model : str
        ``pooled`` (the partially pooled model of every service, ``evaluation.replication``) or
        ``context`` (the earlier per-service ridge on context, bootstrap bands), kept to compare.
    backtest_folds : int
        City-grouped folds of the pooled model's back-test.
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
    target_uptake_ratio: float | None = None
    target_uptake: float | None = None
    threshold_replicate: float = 0.8
    threshold_pilot: float = 0.4
    min_pilots: int = 3
    k_min: int = 2
    k_max: int = 8
    costs: dict | None = None
    costs_source: str = "the run's cost overrides"
    model: str = "pooled"
    backtest_folds: int = 10

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
        if self.model not in ("pooled", "context"):
            raise ValueError(f"model must be 'pooled' or 'context', not {self.model!r}")
        if self.backtest_folds < 2:
            raise ValueError("backtest_folds must be at least 2")
        if self.costs is not None:
            if not isinstance(self.costs, dict) or not all(
                isinstance(v, dict) for v in self.costs.values()
            ):
                raise ValueError("costs must map each service (or 'default') to its cost figures")
            for figures in self.costs.values():
                CostModel().overridden(figures, self.costs_source)  # unknown figures fail here

    def judgement(self) -> JudgementSettings:
        """The settings the per-service context model needs."""
        names = JudgementSettings.__dataclass_fields__
        values = {k: v for k, v in asdict(self).items() if k in names}
        if values["target_uptake_ratio"] is None:
            values["target_uptake_ratio"] = 0.5
        return JudgementSettings(**values)

    def replication(self) -> Settings:
        """The settings the pooled judgement needs."""
        return Settings(
            level=self.level,
            threshold_replicate=self.threshold_replicate,
            threshold_pilot=self.threshold_pilot,
            min_pilots=self.min_pilots,
            backtest_folds=self.backtest_folds,
        )


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
        ``expected_uptake``, ``low``, ``high``, ``target_uptake``, ``score``, ``verdict``,
        ``extrapolated`` (the city's context lies outside the range the pilot cities span).
    targets : DataFrame or None
        Per service: ``service``, ``kind`` (``break-even``, ``uptake`` or ``ratio``),
        ``source`` (where the figures come from) and ``sentence`` (the target in words).
    """

    kpis: pd.DataFrame
    clusters: pd.DataFrame
    viability: pd.DataFrame
    backtest: pd.DataFrame
    backtest_cities: pd.DataFrame
    report: dict
    europe: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None
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
        if self.targets is not None:
            out["targets"] = self.targets
        return out

    # Serialisers that know namedtuples (the hub's does) read a result through `_asdict`.
    _asdict = to_dict

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``kpis.csv``, ``clusters.csv``, ``viability.csv``, ``backtest.csv``,
        ``backtest_cities.csv``, ``targets.csv``, ``report.json`` and (with Europe)
        ``europe.csv``.

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
        if self.targets is not None:
            tables["targets.csv"] = self.targets
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
    targets_by_service = _service_targets(
        services, kpi=kpi, observations=observations, config=config, warnings=warnings
    )
    pooled_info = None
    if config.model == "pooled":
        viability_frames, backtest_detail, service_rows, pooled_info = _judge_pooled(
            services,
            pilots=kpi.pilots,
            cities=cities,
            context=context,
            by_segment=by_segment,
            has_shares=has_shares,
            countries=countries,
            targets_by_service=targets_by_service,
            config=config,
            seed=seed,
            progress=tick,
        )
        for service in services:
            rows = backtest_detail[backtest_detail["service"] == service]
            if len(rows):
                backtests.append((service, _as_backtest(rows)))
                backtest_rows.append(rows.drop(columns=["mu", "sigma"]))
    for done, service in enumerate(services if config.model == "context" else []):
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
        _, column_warnings = europe_columns(context, europe_cities)
        warnings.extend(column_warnings)
        europe, europe_summary = _europe(
            trainings_by_service=kpi.pilots,
            cities=cities,
            europe_cities=europe_cities,
            context=context,
            settings=settings,
            seed=seed,
            progress=tick,
            config=config,
            targets_by_service=targets_by_service,
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
        model_info=pooled_info,
        backtest_cities=backtest_cities,
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
        targets=pd.DataFrame(
            [
                {"service": service, **{k: t.as_dict()[k] for k in ("kind", "source", "sentence")}}
                for service, t in targets_by_service.items()
            ],
            columns=["service", "kind", "source", "sentence"],
        ),
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


@dataclass(frozen=True)
class ServiceTarget:
    """The uptake a city must reach for a service, and where that figure comes from."""

    kind: str  # "break-even", "uptake" (one figure for all) or "ratio" (of the pilots' median)
    source: str
    uptake: float | None = None
    cost: CostModel | None = None
    digital_share: float = float("nan")
    requests_per_citizen: float = float("nan")

    def for_population(self, population: np.ndarray) -> np.ndarray:
        """The target of cities of these populations (citizens per 1,000 per month)."""
        population = np.asarray(population, dtype=float)
        if self.cost is None:
            return np.full(population.shape, float(self.uptake))
        return self.cost.break_even(
            population,
            digital_share=self.digital_share,
            requests_per_citizen=self.requests_per_citizen,
        )

    @property
    def sentence(self) -> str:
        """The target in words, with its source."""
        if self.kind == "uptake":
            return f"target: {self.uptake:g} citizens per 1,000 per month, from {self.source}"
        if self.kind == "ratio":
            return f"target: {self.uptake:.3g} citizens per 1,000 per month, {self.source}"
        return (
            "target: the break-even uptake of each city (fixed costs "
            f"{self.cost.fixed_monthly:,.0f} EUR a month spread over its population, against "
            f"{self.cost.saving_per_request:.2f} EUR saved per digital request, "
            f"{self.requests_per_citizen:.2f} requests per citizen, "
            f"{self.digital_share:.0%} digital), from {self.source}"
        )

    def as_dict(self) -> dict[str, object]:
        """The target for the report."""
        out: dict[str, object] = {"kind": self.kind, "source": self.source}
        out["sentence"] = self.sentence
        if self.cost is not None:
            out["cost"] = self.cost.as_dict()
            out["digital_share"] = self.digital_share
            out["requests_per_citizen"] = self.requests_per_citizen
        else:
            out["uptake"] = self.uptake
        return out


def _requests_per_citizen(observations: pd.DataFrame) -> dict[str, float]:
    """Requests submitted per citizen and month of each service, over the pilots' months."""
    obs = observations[
        (observations["segment"].astype(str) == "all")
        & (observations["channel"].astype(str) == "all")
        & observations["measure"].astype(str).isin(["submitted", "citizens"])
    ]
    if obs.empty:
        return {}
    wide = obs.pivot_table(
        index=["service", "city_id", "period"],
        columns="measure",
        values="value",
        aggfunc="sum",
        observed=True,
    )
    if "submitted" not in wide or "citizens" not in wide:
        return {}
    wide = wide.dropna(subset=["submitted", "citizens"])
    sums = wide.groupby(level="service", observed=True)[["submitted", "citizens"]].sum()
    sums = sums[sums["citizens"] > 0]
    return {str(k): float(v) for k, v in (sums["submitted"] / sums["citizens"]).items()}


def _service_targets(
    services: list[str],
    *,
    kpi,
    observations: pd.DataFrame,
    config: EvaluationConfig,
    warnings: list[str],
) -> dict[str, ServiceTarget]:
    """Each service's target: the run's uptake or ratio when set, else its cost model."""
    out: dict[str, ServiceTarget] = {}
    if config.target_uptake is not None:
        for service in services:
            out[service] = ServiceTarget("uptake", "the run's target uptake", config.target_uptake)
        return out
    if config.target_uptake_ratio is not None:
        for service in services:
            uptake = kpi.pilots.loc[kpi.pilots["service"] == service, "uptake"].to_numpy(float)
            median = float(np.nanmedian(uptake)) if np.isfinite(uptake).any() else float("nan")
            out[service] = ServiceTarget(
                "ratio",
                f"{config.target_uptake_ratio:g} x the service's median pilot uptake",
                config.target_uptake_ratio * median,
            )
        return out
    templates = template_costs()
    uncosted: list[str] = []
    per_citizen = _requests_per_citizen(observations)
    pilot_rows = kpi.kpis[kpi.kpis["period"] == PILOT]
    for service in services:
        cost = cost_model(
            service,
            templates=templates,
            overrides=config.costs,
            overrides_source=config.costs_source,
        )
        share = pilot_rows.loc[pilot_rows["service"] == service, "digital_share"].to_numpy(float)
        digital = float(np.nanmedian(share)) if np.isfinite(share).any() else float("nan")
        if not np.isfinite(digital):
            warnings.append(
                f"{service}: no pilot reports its channels; the break-even uptake assumes half "
                "of its requests are digital"
            )
            digital = 0.5
        requests = per_citizen.get(service, float("nan"))
        if not np.isfinite(requests):
            warnings.append(
                f"{service}: requests per citizen unknown (no 'submitted' and 'citizens' in the "
                "same months); the break-even uptake assumes one request per citizen"
            )
            requests = 1.0
        if service not in templates and not (config.costs and service in config.costs):
            uncosted.append(service)
        out[service] = ServiceTarget(
            "break-even",
            cost.source,
            cost=cost,
            digital_share=digital,
            requests_per_citizen=requests,
        )
    if uncosted:
        source = (
            "the federation's or the run's default costs"
            if config.costs
            else ("the default cost model")
        )
        warnings.append(
            f"no service template declares a cost model for {', '.join(uncosted)}: "
            f"{source} sets their break-even uptake (give them with --costs or the hub's "
            "EVALUATION_COSTS)"
        )
    return out


def _as_backtest(rows: pd.DataFrame) -> Backtest:
    return Backtest(
        city_ids=rows["city_id"].to_numpy(),
        truth=rows["truth"].to_numpy(float),
        predicted=rows["predicted"].to_numpy(float),
        low=rows["low"].to_numpy(float),
        high=rows["high"].to_numpy(float),
        global_mean=rows["global_mean"].to_numpy(float),
        nearest=rows["nearest"].to_numpy(float),
    )


def _judge_pooled(
    services: list[str],
    *,
    pilots: pd.DataFrame,
    cities: pd.DataFrame,
    context: list[str],
    by_segment: bool,
    has_shares: np.ndarray,
    countries: np.ndarray | None,
    targets_by_service: dict[str, ServiceTarget],
    config: EvaluationConfig,
    seed: int,
    progress: Progress,
) -> tuple[list[pd.DataFrame], pd.DataFrame, list[dict], dict]:
    """Judge every service in every city that has not piloted it with the pooled model."""
    settings = config.replication()
    window = config.pilot_window
    pairs_all = replication.pilot_pairs(pilots, cities, context, by_segment=False, window=window)
    pairs_seg = (
        replication.pilot_pairs(pilots, cities, context, by_segment=True, window=window)
        if by_segment
        else None
    )
    seg_count = (
        pd.Series(pairs_seg.service).value_counts() if pairs_seg is not None else pd.Series()
    )
    all_count = pd.Series(pairs_all.service).value_counts()
    fits: dict[bool, replication.FittedJudgement] = {}

    def fitted(segmented: bool) -> replication.FittedJudgement:
        if segmented not in fits:
            progress("fitting the pooled model", 0, 1)
            pairs = pairs_seg if segmented else pairs_all
            fits[segmented] = replication.fit_judgement(
                pairs, context, settings=settings, seed=seed
            )
        return fits[segmented]

    context_all = context_frame(cities, context)
    population = cities["population"].to_numpy(dtype=float)
    city_ids = cities["city_id"].astype(str).to_numpy()
    shares_all = (
        cities[list(SHARE_COLUMNS)].to_numpy(dtype=float)
        if by_segment
        else np.ones((len(cities), 1))
    )
    frames: list[pd.DataFrame] = []
    rows: list[dict] = []
    for done, service in enumerate(services):
        progress("judging services", done, len(services))
        target_info = targets_by_service[service]
        mine = pilots[pilots["service"] == service]
        piloted = np.zeros(len(cities), dtype=bool)
        piloted[mine["city_index"].to_numpy()] = True
        targets = np.flatnonzero(~piloted)
        n_known = int(all_count.get(service, 0))
        # The age-band model needs enough of the service's pilots with their age shares.
        seg_ok = pairs_seg is not None and int(seg_count.get(service, 0)) >= config.min_pilots
        judged_parts = []
        if n_known < config.min_pilots:
            note = json.dumps(
                {
                    "note": f"only {n_known} pilot cities with a known uptake; "
                    "pilot it elsewhere first",
                    "target": {"source": target_info.source},
                }
            )
            goal = target_info.for_population(population[targets])
            judged_parts.append(
                pd.DataFrame(
                    {
                        "service": service,
                        "city_id": city_ids[targets],
                        "expected_uptake": np.nan,
                        "low": np.nan,
                        "high": np.nan,
                        "target_uptake": goal,
                        "score": np.nan,
                        "verdict": PILOT_FIRST,
                        "extrapolated": False,
                        "model": "none",
                        "drivers": note,
                    }
                )
            )
        else:
            for segmented in (True, False):
                if segmented and not seg_ok:
                    continue
                chosen = targets[has_shares[targets] == segmented] if seg_ok else targets
                if chosen.size == 0:
                    continue
                fit = fitted(segmented)
                own = (pairs_seg if segmented else pairs_all).subset(
                    (pairs_seg if segmented else pairs_all).service == service
                )
                judged = replication.judge_service(
                    fit,
                    service,
                    pilots=own,
                    targets=context_all.iloc[chosen].reset_index(drop=True),
                    shares=shares_all[chosen] if segmented else np.ones((chosen.size, 1)),
                    target=target_info.for_population(population[chosen]),
                    target_source=target_info.source,
                    city=city_ids[chosen],
                    country=None if countries is None else countries[chosen],
                    settings=settings,
                )
                judged_parts.append(
                    pd.DataFrame(
                        {
                            "service": service,
                            "city_id": city_ids[chosen],
                            "expected_uptake": judged.expected,
                            "low": judged.low,
                            "high": judged.high,
                            "target_uptake": judged.target,
                            "score": judged.score,
                            "verdict": judged.verdict,
                            "extrapolated": judged.outside,
                            "model": "age bands" if segmented else "context alone",
                            "drivers": judged.drivers,
                        }
                    )
                )
                if not seg_ok:
                    break
        frames += judged_parts
        verdict = pd.concat(judged_parts)["verdict"].to_numpy() if judged_parts else np.array([])
        uptake = mine["uptake"].to_numpy(dtype=float)
        known = np.isfinite(uptake)
        goal_all = target_info.for_population(population[targets])
        rows.append(
            {
                "service": service,
                "pilot_cities": len(mine),
                "pilot_cities_with_uptake": n_known,
                "target": target_info.as_dict(),
                "target_uptake": float(np.median(goal_all)) if goal_all.size else None,
                "median_pilot_uptake": float(np.median(uptake[known])) if known.any() else None,
                "cities_judged": len(targets),
                "model": "age bands" if seg_ok else "context alone",
                REPLICATE: int((verdict == REPLICATE).sum()),
                PILOT_FIRST: int((verdict == PILOT_FIRST).sum()),
                NOT_VIABLE: int((verdict == NOT_VIABLE).sum()),
                "outside_pilots_range": int(
                    sum('"outside_pilots"' in d for d in pd.concat(judged_parts)["drivers"])
                )
                if judged_parts
                else 0,
            }
        )
    progress("back-testing", 0, 1)
    main_pairs = pairs_seg if pairs_seg is not None and len(pairs_seg) else pairs_all
    detail = replication.backtest(main_pairs, context, settings=settings, seed=seed)
    info: dict[str, object] = {}
    for segmented, fit in sorted(fits.items(), reverse=True):
        info["age bands" if segmented else "context alone"] = {
            "alpha": fit.model.alpha_,
            "cv_errors": fit.model.cv_errors_,
            "population_effect": fit.population_effect,
            "features": fit.features,
            "residual_sd": fit.sigma_all,
            "effect_variances": fit.model.effect_variances_,
        }
    return frames, detail, rows, info


def _empty_viability() -> pd.DataFrame:
    columns = [
        "service",
        "city_id",
        "expected_uptake",
        "low",
        "high",
        "target_uptake",
        "score",
        "verdict",
        "extrapolated",
        "model",
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


def europe_columns(context: list[str], europe_cities: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The federation's context columns the Europe table has, and a warning for each it lacks.

    Parameters
    ----------
    context : list of str
        The context columns of the federation's cities table.
    europe_cities : DataFrame
        The validated Europe table.

    Returns
    -------
    tuple
        The shared columns, and one warning per column the Europe table lacks (naming a column
        of the Europe table with a similar name, if there is one).
    """
    import difflib

    have = context_columns(europe_cities)
    shared = [c for c in context if c in europe_cities.columns]
    warnings = []
    for column in context:
        if column in europe_cities.columns:
            continue
        close = difflib.get_close_matches(column, have, n=1, cutoff=0.6)
        normalised = {_normalise_name(h): h for h in have}
        match = normalised.get(_normalise_name(column)) or (close[0] if close else None)
        hint = f" (it has '{match}': rename one of them to match)" if match else ""
        warnings.append(
            f"europe table: no context column '{column}'{hint}; the Europe judgement "
            "leaves that figure out"
        )
    return shared, warnings


def _normalise_name(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _europe(
    *,
    trainings_by_service: pd.DataFrame,
    cities: pd.DataFrame,
    europe_cities: pd.DataFrame,
    context: list[str],
    settings: JudgementSettings,
    seed: int,
    progress: Progress,
    config: EvaluationConfig | None = None,
    targets_by_service: dict[str, ServiceTarget] | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    """Judge every service in every city of a Europe-wide table, from context alone."""
    shared = [c for c in context if c in europe_cities.columns]
    config = config or EvaluationConfig()
    if config.model == "pooled":
        return _europe_pooled(
            pilots=trainings_by_service,
            cities=cities,
            europe_cities=europe_cities,
            shared=shared,
            config=config,
            targets_by_service=targets_by_service or {},
            seed=seed,
            progress=progress,
        )
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


def _europe_pooled(
    *,
    pilots: pd.DataFrame,
    cities: pd.DataFrame,
    europe_cities: pd.DataFrame,
    shared: list[str],
    config: EvaluationConfig,
    targets_by_service: dict[str, ServiceTarget],
    seed: int,
    progress: Progress,
) -> tuple[pd.DataFrame, list[dict]]:
    """The Europe judgement with the pooled model of the pilots' whole uptake."""
    settings = config.replication()
    pairs = replication.pilot_pairs(
        pilots, cities, shared, by_segment=False, window=config.pilot_window
    )
    services = sorted(pilots["service"].unique())
    frames, summary = [], []
    fit = None
    if len(np.unique(pairs.city_id)) >= 3:
        progress("fitting the Europe model", 0, 1)
        fit = replication.fit_judgement(pairs, shared, settings=settings, seed=seed)
    targets = context_frame(europe_cities, shared)
    population = europe_cities["population"].to_numpy(dtype=float)
    country = europe_cities["country"].astype(str).to_numpy()
    ones = np.ones((len(europe_cities), 1))
    for done, service in enumerate(services):
        progress("judging Europe", done, len(services))
        target_info = targets_by_service.get(service) or ServiceTarget(
            "break-even", CostModel().source, cost=CostModel(), digital_share=0.5,
            requests_per_citizen=1.0,
        )  # fmt: skip
        goal = target_info.for_population(population)
        own = pairs.subset(pairs.service == service)
        if fit is None or len(own) < config.min_pilots:
            nan = np.full(len(europe_cities), np.nan)
            expected, low, high, score = nan, nan, nan, nan
            verdict = np.full(len(europe_cities), PILOT_FIRST, dtype=object)
            outside = np.zeros(len(europe_cities), dtype=bool)
        else:
            judged = replication.judge_service(
                fit,
                service,
                pilots=own,
                targets=targets,
                shares=ones,
                target=goal,
                target_source=target_info.source,
                city=None,
                country=country,
                settings=settings,
                with_drivers=False,
            )
            expected, low, high, score = judged.expected, judged.low, judged.high, judged.score
            verdict, outside = judged.verdict, judged.outside
        frame = pd.DataFrame(
            {
                "service": service,
                "city": europe_cities["city"].to_numpy(),
                "country": europe_cities["country"].to_numpy(),
                "population": europe_cities["population"].round().astype("int64").to_numpy(),
                "expected_uptake": expected,
                "low": low,
                "high": high,
                "target_uptake": goal,
                "score": score,
                "verdict": verdict,
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
    not_viable = frame[frame["verdict"] == NOT_VIABLE]
    people = float(viable["population"].sum())
    towns = len(viable)
    countries = int(viable["country"].nunique())
    no_people = float(not_viable["population"].sum())
    return {
        "service": service,
        "viable_population": people,
        "viable_cities": towns,
        "viable_countries": countries,
        "pilot_first_population": float(maybe["population"].sum()),
        "pilot_first_cities": len(maybe),
        "not_viable_population": no_people,
        "not_viable_cities": len(not_viable),
        "sentence": (
            f"{service}: viable for {people / 1e6:.1f} million people in {towns} cities "
            f"across {countries} countries; not viable for {no_people / 1e6:.1f} million "
            f"people in {len(not_viable)} cities; pilot first in {len(maybe)} cities"
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
    services = sorted(kpi.pilots["service"].unique())
    targets = _service_targets(
        services, kpi=kpi, observations=observations, config=config, warnings=[]
    )
    return _europe(
        trainings_by_service=kpi.pilots,
        cities=cities,
        europe_cities=europe_cities,
        context=context_columns(cities),
        settings=config.judgement(),
        seed=seed,
        progress=_noop,
        config=config,
        targets_by_service=targets,
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
    model_info: dict | None = None,
    backtest_cities: pd.DataFrame | None = None,
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
        low, high = CRITERIA["coverage_range"]
        trust = (
            f"Leaving each pilot city out in turn, the expected uptake ranked the held-out cities "
            f"with Spearman {o['spearman']:.2f} on average per service, "
            f"{o['spearman'] - o['spearman_nearest']:+.2f} against copying the nearest pilot "
            f"city ({o['spearman_nearest']:.2f}; criterion at least "
            f"{CRITERIA['spearman_above_nearest_min']:+.1f}), erred by {o['mae']:.2f} citizens "
            f"per 1,000 per month (global mean {o['mae_global_mean']:.2f}, nearest pilot "
            f"{o['mae_nearest']:.2f}) and its {config.level:.0%} bands held the truth "
            f"{o['coverage']:.0%} of the time (criterion {low:.0%}-{high:.0%} for 90% bands)."
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
        "method": _method(config, by_segment),
        "model": model_info,
        "interval": _interval_check(backtest_cities, config.level),
        "targets": {row["service"]: row.get("target") for row in service_rows},
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


def _interval_check(detail: pd.DataFrame | None, level: float) -> dict | None:
    """Coverage and mean relative width of the back-test's bands."""
    if detail is None or detail.empty:
        return None
    truth, low, high = (detail[c].to_numpy(float) for c in ("truth", "low", "high"))
    predicted = detail["predicted"].to_numpy(float)
    ok = np.isfinite(truth) & np.isfinite(low) & np.isfinite(high) & (predicted > 0)
    if not ok.any():
        return None
    return {
        "level": level,
        "coverage": float(np.mean((low[ok] <= truth[ok]) & (truth[ok] <= high[ok]))),
        "mean_relative_width": float(np.mean((high[ok] - low[ok]) / predicted[ok])),
        "held_out_pilots": int(ok.sum()),
        "source": "held-out pilots of the back-test, every fitted part refitted without them",
    }


def _method(config: EvaluationConfig, by_segment: bool) -> dict[str, str]:
    """The method of the run, in words."""
    if config.target_uptake is not None:
        target = f"{config.target_uptake:g} citizens per 1,000 per month for every service"
    elif config.target_uptake_ratio is not None:
        target = f"{config.target_uptake_ratio:g} x the service's median pilot uptake"
    else:
        target = (
            "the city's break-even uptake: the service's fixed monthly cost (set-up spread over "
            "its amortisation months, plus running cost) over the city's population, against "
            "what its requests save on digital channels (evaluation.costs)"
        )
    verdict = (
        f"{REPLICATE} when score >= {config.threshold_replicate}, {PILOT_FIRST} when "
        f">= {config.threshold_pilot}, else {NOT_VIABLE}"
    )
    common = {
        "kpis": "see evaluation.kpis: Poisson, t, Wilson, Bhatia-Davis and quantile-rank bands",
        "clusters": (
            f"k-means over standardised context and usage profiles; k chosen by the "
            f"silhouette score among {config.k_min}..{config.k_max}; 2-D projection by PCA"
        ),
    }
    if config.model == "context":
        return {
            **common,
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
            "score": f"share of the band's draws reaching the target ({target})",
            "verdict": verdict,
            "europe": "context alone (no age shares in the Eurostat table), hence wider bands",
            "target": target,
        }
    return {
        **common,
        "viability": (
            "partially pooled model of every service (evaluation.pooled): per service and age "
            "band a level, context effects shared across services with shrunk service "
            "deviations (penalty by city-grouped cross-validation), country and city effects; "
            "post-stratified on the target city's age mix"
            if by_segment
            else "partially pooled model of every service's whole uptake on context"
        ),
        "bands": (
            f"central {config.level:.0%} of a log-normal predictive distribution whose centre "
            "and spread come from the pilots' city-grouped cross-validated residuals"
        ),
        "score": f"probability under that distribution of reaching the target ({target})",
        "verdict": verdict + f"; {PILOT_FIRST} wherever the city lies outside the range the "
        "service's pilots span",
        "europe": "the same pooled model on the pilots' whole uptake and the figures the Europe "
        "table shares (no age shares there), with its own residuals",
        "target": target,
        "backtest": (
            f"{config.backtest_folds} city-grouped folds; each fold is judged by a model whose "
            "standardisation, penalty, population choice, country and city effects and "
            "residuals are fitted without it"
        ),
    }


__all__ = [
    "PILOT",
    "EvaluationConfig",
    "EvaluationResult",
    "europe_summary",
    "evaluate_europe",
    "run_evaluation",
]
