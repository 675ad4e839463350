"""The replication judgement: the pooled model, one predictive interval, a break-even verdict.

The method:

1. **Model.** Every service's pilots train one ``PooledUptakeModel`` (``evaluation.pooled``):
   per service and age band a level, context effects shared across services with each service's
   own deviation shrunk towards them, country effects and a city effect. The deviation penalty
   is chosen by city-grouped cross-validation among ``ALPHAS``. Log population enters the model
   only when it lowers that cross-validated error by at least 5% (the pilots show a population
   effect).
2. **Post-stratification.** A city's expected uptake of a service is the sum over age bands of
   its population share times the band's modelled uptake. A city without age shares (and every
   city of the Europe table) is judged by the same model fitted on the pilots' whole uptake
   ("context alone"), which has its own, larger residuals.
3. **One predictive interval.** Each pilot's uptake is predicted by the model fitted without
   its city's fold (``oof_log_pred_``); the log ratios of truth to these predictions are the
   service's cross-validated residuals. Their mean (a bias correction) and spread, shrunk
   towards those of all services, make the predictive distribution of a city's log uptake:
   normal, centred on the model's prediction plus the bias, with that spread (plus the
   variance of the country effects for a city of a country without pilots, whose country
   effect is unknown). The band is its central ``level`` interval; nothing else adds to it.
4. **Target and score.** The target of a city is the uptake at which the service pays for
   itself there (``evaluation.costs``: fixed costs spread over its population, against what a
   request saves when it moves to a digital channel), unless a run sets one uptake for all.
   The score is the probability, under the predictive distribution, that the city's uptake
   reaches its target.
5. **Verdict.** ``replicate`` when the score reaches ``threshold_replicate``, ``pilot first``
   when it reaches ``threshold_pilot``, else ``not viable``; and ``pilot first`` wherever the
   city's context lies outside the range the service's pilots span (the drivers name the
   figure), since the model would extrapolate there.
6. **Back-test.** Pilot cities are split into city-grouped folds; for each fold the whole
   judgement (standardisation, penalty, population choice, country and city effects,
   residuals) is refitted on the other cities only and predicts the fold's pilots, so a held-out
   city's own data cannot move its own prediction or band.
"""

import json
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .pooled import PooledUptakeModel, city_folds
from .tables import SEGMENTS, SHARE_COLUMNS
from .viability import NOT_VIABLE, PILOT_FIRST, REPLICATE, context_frame

GROUP_COLUMN = "country"
POPULATION = "log_population"
ALPHAS = (1.0, 10.0, 100.0, 1000.0, 10000.0)
_FLOOR = 0.01  # citizens per 1,000 per month, as in the pooled model
_PRIOR_PAIRS = 10.0
SHARED_FACTOR = 100.0  # how much more a band's own effects are shrunk than the figures' own
OPTIONAL_MARGIN = 0.05  # log population must lower the CV error by 5% to enter
BAND_EFFECTS = True  # a service's residual spread counts as this many pilots of all services'


@dataclass
class PilotPairs:
    """The pilots (service x city) the judgement learns from, one row each.

    Attributes
    ----------
    service, city_id, country : ndarray
        (n,) labels (``country`` empty strings when the table has none).
    city_index : ndarray
        (n,) row of the city in the cities table.
    uptake : ndarray
        (n,) the pilot's observed uptake (citizens per 1,000 per month).
    rates : ndarray
        (n, g) the pilot's uptake per age band (per 1,000 of the band), or (n, 1) its uptake.
    shares : ndarray
        (n, g) the city's population share of each band (ones for the context-only model).
    months : ndarray
        (n,) months of the pilot window behind the uptake.
    population : ndarray
        (n,) inhabitants.
    context : DataFrame
        (n, c) the model's candidate figures, ``log_population`` last.
    """

    service: np.ndarray
    city_id: np.ndarray
    country: np.ndarray
    city_index: np.ndarray
    uptake: np.ndarray
    rates: np.ndarray
    shares: np.ndarray
    months: np.ndarray
    population: np.ndarray
    context: pd.DataFrame

    def subset(self, keep: np.ndarray) -> "PilotPairs":
        """The pairs where ``keep`` is true."""
        return PilotPairs(
            service=self.service[keep],
            city_id=self.city_id[keep],
            country=self.country[keep],
            city_index=self.city_index[keep],
            uptake=self.uptake[keep],
            rates=self.rates[keep],
            shares=self.shares[keep],
            months=self.months[keep],
            population=self.population[keep],
            context=self.context[keep].reset_index(drop=True),
        )

    def __len__(self) -> int:
        return len(self.uptake)


def pilot_pairs(
    pilots: pd.DataFrame,
    cities: pd.DataFrame,
    columns: list[str],
    *,
    by_segment: bool,
    window: int,
) -> PilotPairs:
    """The pilots with a known uptake (and, for the age-band model, known age shares).

    Parameters
    ----------
    pilots : DataFrame
        ``KpiResult.pilots`` (every service).
    cities : DataFrame
        The validated cities table.
    columns : list of str
        Context columns.
    by_segment : bool
        Age-band rows (needs the share columns) or the whole uptake.
    window : int
        The pilot window in months (the exposure of a pilot is at most this many months).

    Returns
    -------
    PilotPairs
        One row per usable pilot.
    """
    usable = np.isfinite(pilots["uptake"].to_numpy(dtype=float))
    if by_segment:
        known = cities[list(SHARE_COLUMNS)].notna().all(axis=1).to_numpy()
        usable &= known[pilots["city_index"].to_numpy()]
    pilots = pilots[usable]
    index = pilots["city_index"].to_numpy()
    rows = cities.iloc[index].reset_index(drop=True)
    uptake = pilots["uptake"].to_numpy(dtype=float)
    if by_segment:
        rates = pilots[[f"uptake_{s}" for s in SEGMENTS]].to_numpy(dtype=float)
        shares = rows[list(SHARE_COLUMNS)].to_numpy(dtype=float)
    else:
        rates, shares = uptake[:, None], np.ones((len(uptake), 1))
    country = (
        rows[GROUP_COLUMN].astype(str).to_numpy()
        if GROUP_COLUMN in rows.columns
        else np.full(len(rows), "", dtype=object)
    )
    return PilotPairs(
        service=pilots["service"].astype(str).to_numpy(),
        city_id=pilots["city_id"].astype(str).to_numpy(),
        country=country,
        city_index=index,
        uptake=uptake,
        rates=rates,
        shares=shares,
        months=np.minimum(pilots["periods"].to_numpy(dtype=float), window),
        population=rows["population"].to_numpy(dtype=float),
        context=context_frame(rows, columns),
    )


@dataclass
class Settings:
    """What the judgement needs of ``EvaluationConfig``."""

    level: float = 0.9
    threshold_replicate: float = 0.8
    threshold_pilot: float = 0.4
    min_pilots: int = 3
    cv: int = 5
    backtest_folds: int = 10
    alphas: tuple[float, ...] = ALPHAS
    alpha_shared: float = 1.0


@dataclass
class FittedJudgement:
    """A pooled model and its cross-validated residuals, ready to judge cities."""

    model: PooledUptakeModel
    design: list[str]  # the figures the model is given, log population last
    features: list[str]  # the figures it uses (log population only with an effect)
    bands: tuple[str, ...]
    bias: dict[str, float]
    sigma: dict[str, float]
    sigma_all: float
    residuals: pd.DataFrame  # service, city_id, residual: the pilots' out-of-fold log residuals
    population_effect: bool
    cv_error: dict[str, float] = field(default_factory=dict)

    def predict(
        self,
        service: str,
        context: pd.DataFrame,
        shares: np.ndarray,
        *,
        city: np.ndarray | None,
        country: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centre and spread of log(uptake + floor), and the band uptakes, of target cities.

        Returns
        -------
        tuple of ndarray
            ``mu`` (m,), ``sigma`` (m,), ``parts`` (m, g): the uptake each band brings.
        """
        return self.predict_rows(
            np.full(len(context), service, dtype=object),
            context[self.design].to_numpy(dtype=float),
            shares,
            city=city,
            country=country,
        )

    def predict_rows(
        self,
        service: np.ndarray,
        x: np.ndarray,
        shares: np.ndarray,
        *,
        city: np.ndarray | None,
        country: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``predict`` for rows of any services: labels (m,), figures (m, design), shares."""
        m, g = len(x), len(self.bands)
        x = with_band_effects(np.repeat(x, g, axis=0), np.tile(np.arange(g), m), g)
        log_rate = self.model.predict_log(
            x,
            service=np.repeat(np.asarray(service, dtype=object), g),
            band=np.tile(np.array(self.bands, dtype=object), m),
            city=None if city is None else np.repeat(np.asarray(city, dtype=str), g),
            country=None if country is None else np.repeat(np.asarray(country, dtype=str), g),
        ).reshape(m, g)
        parts = np.maximum(np.exp(log_rate) - _FLOOR, 0.0) * shares
        whole = parts.sum(axis=1)
        labels = [str(v) for v in service]
        mu = np.log(whole + _FLOOR) + np.array([self.bias.get(v, 0.0) for v in labels])
        sigma = np.array([self.sigma.get(v, self.sigma_all) for v in labels], dtype=float)
        if country is not None:
            # The residuals were learnt where a city's country had other pilots; in a country
            # without any, its whole country effect is unknown: add its variance.
            seen = set(self.model.country_effects_.get("shared", {}))
            unseen = np.array([str(c) not in seen for c in country], dtype=bool)
            variances = self.model.effect_variances_
            extra = variances.get("country", 0.0) + variances.get("country_service", 0.0)
            sigma = np.where(unseen, np.sqrt(sigma**2 + extra), sigma)
        return mu, sigma, parts


def _rows(pairs: PilotPairs, features: list[str]) -> dict[str, np.ndarray]:
    """The pooled model's long rows (pair x band) of some pairs."""
    n, g = pairs.rates.shape
    bands = np.array(SEGMENTS if g > 1 else ("all",), dtype=object)
    rate = pairs.rates.ravel()
    share = pairs.shares.ravel()
    ok = np.isfinite(rate) & (share > 0)
    pair = np.repeat(np.arange(n), g)[ok]
    exposure = (pairs.population[:, None] * pairs.shares * pairs.months[:, None] / 1000).ravel()
    band_of = np.tile(np.arange(g), n)[ok]
    return {
        "X": with_band_effects(pairs.context[features].to_numpy(dtype=float)[pair], band_of, g),
        "y": np.maximum(rate[ok], 0.0),
        "exposure": exposure[ok],
        "service": pairs.service[pair],
        "band": np.tile(bands, n)[ok],
        "city": pairs.city_id[pair],
        "country": pairs.country[pair],
        "pair": pair,
        "share": share[ok],
    }


def with_band_effects(x: np.ndarray, band_of: np.ndarray, bands: int) -> np.ndarray:
    """The context of each row, then the same figures again for each band but the first.

    The copies let a figure matter more for one age band than another (internet use for the
    over-55s), learnt across services like the other context effects.

    Parameters
    ----------
    x : ndarray
        (n, c) context of each row.
    band_of : ndarray
        (n,) band index of each row.
    bands : int
        Number of bands (1: no copies).

    Returns
    -------
    ndarray
        (n, c * bands) design; a copy is 0 on the rows of other bands.
    """
    if bands <= 1 or not BAND_EFFECTS:
        return x
    copies = [np.where((band_of == b)[:, None], x, 0.0) for b in range(1, bands)]
    return np.hstack([x, *copies])


def _fit_model(
    pairs: PilotPairs, features: list[str], settings: Settings, seed: int
) -> tuple[PooledUptakeModel, dict[str, np.ndarray]]:
    rows = _rows(pairs, features)
    c, g = len(features), pairs.rates.shape[1]
    # Log population (last of the figures) and its copies for the other bands enter only
    # when the cross-validated error is lower with them.
    copies = g if (BAND_EFFECTS and g > 1) else 1
    optional = [b * c + c - 1 for b in range(copies)] if features[-1:] == [POPULATION] else []
    model = PooledUptakeModel(
        mostly_shared=list(range(c, c * copies)),
        shared_factor=SHARED_FACTOR,
        optional_margin=OPTIONAL_MARGIN,
        alphas=settings.alphas,
        alpha_shared=settings.alpha_shared,
        cv=settings.cv,
        random_state=seed,
        optional=optional,
    )
    model.fit(
        rows["X"],
        rows["y"],
        exposure=rows["exposure"],
        service=rows["service"],
        band=rows["band"],
        city=rows["city"],
        country=rows["country"],
    )
    return model, rows


def _pair_residuals(pairs: PilotPairs, rows: dict[str, np.ndarray], oof: np.ndarray) -> np.ndarray:
    """Log residual of each pair's whole uptake against its out-of-fold prediction."""
    parts = np.maximum(np.exp(oof) - _FLOOR, 0.0) * rows["share"]
    whole = np.bincount(rows["pair"], weights=parts, minlength=len(pairs))
    known = np.bincount(rows["pair"], weights=np.isfinite(oof), minlength=len(pairs)) > 0
    with np.errstate(invalid="ignore"):
        out = np.log(pairs.uptake + _FLOOR) - np.log(whole + _FLOOR)
    return np.where(known & np.isfinite(out), out, np.nan)


def fit_judgement(
    pairs: PilotPairs, columns: list[str], *, settings: Settings, seed: int
) -> FittedJudgement:
    """Fit the pooled model and its predictive distribution on some pilots.

    Parameters
    ----------
    pairs : PilotPairs
        The pilots (every service).
    columns : list of str
        Context columns; ``log_population`` is tried on top of them.
    settings : Settings
        Folds and penalties.
    seed : int
        Seed of the fold assignment.

    Returns
    -------
    FittedJudgement
        The model, with log population when it lowers the city-grouped CV error.
    """
    design = [*columns, POPULATION]
    model, rows = _fit_model(pairs, design, settings, seed)
    residual = _pair_residuals(pairs, rows, model.oof_log_pred_)
    population = bool(model.uses_optional_)
    features = design if population else [*columns]
    g = pairs.rates.shape[1]
    bias, sigma = {}, {}
    ok = np.isfinite(residual)
    all_var = float(np.var(residual[ok])) if ok.sum() > 1 else 1.0
    all_mean = float(np.mean(residual[ok])) if ok.any() else 0.0
    for service in np.unique(pairs.service):
        r = residual[(pairs.service == service) & ok]
        n = len(r)
        # Shrink towards all services: a dozen residuals alone make a ragged spread.
        bias[service] = float((r.sum() + _PRIOR_PAIRS * all_mean) / (n + _PRIOR_PAIRS))
        ss = ((r - bias[service]) ** 2).sum()
        sigma[service] = float(np.sqrt((ss + _PRIOR_PAIRS * all_var) / (n + _PRIOR_PAIRS)))
    return FittedJudgement(
        model=model,
        design=design,
        features=features,
        bands=tuple(SEGMENTS) if g > 1 else ("all",),
        bias=bias,
        sigma=sigma,
        sigma_all=float(np.sqrt(all_var)),
        residuals=pd.DataFrame(
            {"service": pairs.service, "city_id": pairs.city_id, "residual": residual}
        ),
        population_effect=population,
        cv_error=dict(model.set_errors_),
    )


def interval(
    mu: np.ndarray, sigma: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and central ``level`` band of uptake from the log-normal predictive distribution.

    Parameters
    ----------
    mu, sigma : ndarray
        Centre and spread of ``log(uptake + floor)``.
    level : float
        Coverage of the band.

    Returns
    -------
    tuple of ndarray
        ``expected`` (the median), ``low``, ``high``.
    """
    z = float(stats.norm.ppf(0.5 + level / 2))
    median = np.maximum(np.exp(mu) - _FLOOR, 0.0)
    return (
        median,
        np.maximum(np.exp(mu - z * sigma) - _FLOOR, 0.0),
        np.maximum(np.exp(mu + z * sigma) - _FLOOR, 0.0),
    )


def probability_reaching(mu: np.ndarray, sigma: np.ndarray, target: np.ndarray) -> np.ndarray:
    """P(uptake >= target) under the predictive distribution.

    Parameters
    ----------
    mu, sigma : ndarray
        Centre and spread of ``log(uptake + floor)``.
    target : ndarray
        Uptake each city must reach.

    Returns
    -------
    ndarray
        Probabilities (0 for an infinite target).
    """
    with np.errstate(divide="ignore"):
        z = (np.log(np.asarray(target, dtype=float) + _FLOOR) - mu) / sigma
    return np.where(np.isfinite(target), stats.norm.sf(z), 0.0)


def outside_range(
    pilots: pd.DataFrame, targets: pd.DataFrame, features: list[str]
) -> tuple[np.ndarray, list[str]]:
    """Whether each target lies outside the range the pilots span, and on which figures.

    Parameters
    ----------
    pilots, targets : DataFrame
        The model's figures of the pilot and target cities.
    features : list of str
        The figures the model uses.

    Returns
    -------
    tuple
        (m,) booleans and, per target, a short text naming the figures outside (empty if none).
    """
    if not features:
        return np.zeros(len(targets), dtype=bool), [""] * len(targets)
    low = pilots[features].min().to_numpy(dtype=float)
    high = pilots[features].max().to_numpy(dtype=float)
    values = targets[features].to_numpy(dtype=float)
    below, above = values < low, values > high
    outside = below | above
    notes = []
    for i in range(len(targets)):
        parts = [
            f"{name} {_fmt(values[i, j])} {'below' if below[i, j] else 'above'} the pilots' "
            f"{_fmt(low[j] if below[i, j] else high[j])}"
            for j, name in enumerate(features)
            if outside[i, j]
        ]
        notes.append("; ".join(parts))
    return outside.any(axis=1), notes


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def verdicts(score: np.ndarray, outside: np.ndarray, settings: Settings) -> np.ndarray:
    """Verdict of each score, and ``pilot first`` wherever the model would extrapolate.

    Parameters
    ----------
    score : ndarray
        Probabilities of reaching the target.
    outside : ndarray
        Whether each city lies outside the range the pilots span.
    settings : Settings
        ``threshold_replicate`` and ``threshold_pilot``.

    Returns
    -------
    ndarray
        ``replicate``, ``pilot first`` or ``not viable``.
    """
    by_score = np.where(
        score >= settings.threshold_replicate,
        REPLICATE,
        np.where(score >= settings.threshold_pilot, PILOT_FIRST, NOT_VIABLE),
    )
    return np.where(outside, PILOT_FIRST, by_score).astype(object)


@dataclass
class Judged:
    """One service judged in target cities (arrays aligned with the targets)."""

    expected: np.ndarray
    low: np.ndarray
    high: np.ndarray
    target: np.ndarray
    score: np.ndarray
    verdict: np.ndarray
    outside: np.ndarray
    drivers: list[str]


def judge_service(
    fitted: FittedJudgement,
    service: str,
    *,
    pilots: PilotPairs,
    targets: pd.DataFrame,
    shares: np.ndarray,
    target: np.ndarray,
    target_source: str,
    city: np.ndarray | None,
    country: np.ndarray | None,
    settings: Settings,
    with_drivers: bool = True,
) -> Judged:
    """Judge one service in target cities.

    Parameters
    ----------
    fitted : FittedJudgement
        The fitted model.
    service : str
        The service.
    pilots : PilotPairs
        The service's own pilots (their figures set the range the model may be trusted in).
    targets : DataFrame
        The target cities' figures (``viability.context_frame``).
    shares : ndarray
        (m, g) the targets' band shares (ones for the context-only model).
    target : ndarray
        (m,) the uptake each city must reach.
    target_source : str
        Where the target comes from, for the drivers.
    city, country : ndarray, optional
        Labels whose learnt effects apply (a city that piloted other services, its country).
    settings : Settings
        Band level and thresholds.
    with_drivers : bool
        Whether to explain each judgement.

    Returns
    -------
    Judged
        Expected uptake (the median of the predictive distribution), band, target, score,
        verdict and drivers.
    """
    mu, sigma, parts = fitted.predict(service, targets, shares, city=city, country=country)
    expected, low, high = interval(mu, sigma, settings.level)
    score = probability_reaching(mu, sigma, target)
    outside, notes = outside_range(pilots.context, targets, fitted.features)
    verdict = verdicts(score, outside, settings)
    drivers = [""] * len(targets)
    if with_drivers:
        drivers = _explain(
            fitted,
            service,
            pilots=pilots,
            targets=targets,
            parts=parts,
            target=target,
            target_source=target_source,
            notes=notes,
            city=city,
            country=country,
        )
    return Judged(expected, low, high, np.asarray(target, float), score, verdict, outside, drivers)


def _explain(
    fitted: FittedJudgement,
    service: str,
    *,
    pilots: PilotPairs,
    targets: pd.DataFrame,
    parts: np.ndarray,
    target: np.ndarray,
    target_source: str,
    notes: list[str],
    city: np.ndarray | None,
    country: np.ndarray | None,
) -> list[str]:
    """Drivers as JSON text: nearest pilots, bands, context effects, country and city."""
    model = fitted.model
    s = int(np.searchsorted(model.services_, service))
    c = [fitted.design.index(f) for f in fitted.features]
    slopes = model.slopes_[s, c]  # the figures' effect on the first band
    z_t = _standardised(fitted, targets)
    z_p = _standardised(fitted, pilots.context)
    effects = z_t * slopes  # log effect of each figure against the pilots' average
    order = np.argsort(-np.abs(effects), axis=1)[:, :3]
    distance = ((z_t[:, None, :] - z_p[None, :, :]) ** 2).sum(axis=2)
    near = np.argsort(distance, axis=1)[:, :3]
    closeness = 1.0 / (1.0 + np.take_along_axis(distance, near, axis=1))
    weight = np.round(closeness / closeness.sum(axis=1, keepdims=True), 3).tolist()
    ids = pilots.city_id[near].tolist()
    raw = targets[fitted.features].to_numpy(float)
    shares = np.asarray(parts)
    uptake_bands = parts.sum(axis=1, keepdims=True)
    model_name = "age bands" if len(fitted.bands) > 1 else "context alone"
    shared_country = model.country_effects_.get("shared", {}) if country is not None else {}
    city_fx = model.city_effects_ if city is not None else {}
    # Whole arrays are rounded first; the loop only assembles small dicts.
    goal_r = _rounded(np.asarray(target, dtype=float))
    seg_order = np.argsort(-shares, axis=1)
    contribution = _rounded(np.take_along_axis(shares, seg_order, axis=1))
    share_of = _rounded(
        np.take_along_axis(shares, seg_order, axis=1) / np.maximum(uptake_bands, 1e-12)
    )
    seg_names = np.array(fitted.bands, dtype=object)[seg_order].tolist()
    values = _rounded(np.take_along_axis(raw, order, axis=1)) if raw.size else []
    pct = np.round(np.expm1(np.take_along_axis(effects, order, axis=1)) * 100, 1).tolist()
    figures = [[fitted.features[j] for j in row] for row in order.tolist()]
    texts = []
    for i in range(len(targets)):
        d: dict[str, object] = {
            "model": model_name,
            "target": {"uptake": goal_r[i], "source": target_source},
            "pilots": [{"city_id": c, "weight": w} for c, w in zip(ids[i], weight[i], strict=True)],
            "segments": [
                {"segment": name, "contribution": c, "share_of_uptake": f}
                for name, c, f in zip(seg_names[i], contribution[i], share_of[i], strict=True)
            ],
            "context": [
                {"figure": f, "value": v, "effect_pct": e}
                for f, v, e in zip(figures[i], values[i], pct[i], strict=True)
            ],
        }
        if country is not None and str(country[i]) in shared_country:
            d["country_effect_pct"] = round(
                float(np.expm1(shared_country[str(country[i])]) * 100), 1
            )
        if city is not None and str(city[i]) in city_fx:
            d["city_effect_pct"] = round(float(np.expm1(city_fx[str(city[i])]) * 100), 1)
        if notes[i]:
            d["outside_pilots"] = f"outside the range the pilots span: {notes[i]}"
        texts.append(json.dumps(d))
    return texts


def _rounded(values: np.ndarray) -> list:
    """Values to 4 significant figures as nested lists, None where not finite."""
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = 3 - np.floor(np.log10(np.abs(values)))
        scale = np.where(np.isfinite(digits), 10.0**digits, 1.0)
        out = np.round(values * scale) / scale
    out = np.where(values == 0, 0.0, out)
    return np.where(np.isfinite(values), out, None).tolist()


def backtest(
    pairs: PilotPairs, columns: list[str], *, settings: Settings, seed: int
) -> pd.DataFrame:
    """Hold out city-grouped folds of pilots and judge them with everything refitted without them.

    Parameters
    ----------
    pairs : PilotPairs
        Every pilot (every service).
    columns : list of str
        Context columns.
    settings : Settings
        ``backtest_folds``, band level.
    seed : int
        Seed of the folds.

    Returns
    -------
    DataFrame
        One row per held-out pilot: ``service``, ``city_id``, ``truth``, ``predicted``, ``low``,
        ``high``, ``global_mean`` and ``nearest`` (the two baselines, from the same training
        pilots of the service), ``mu``, ``sigma`` (the predictive log centre and spread).
    """
    cities = np.unique(pairs.city_id)
    empty = pd.DataFrame(
        columns=["service", "city_id", "truth", "predicted", "low", "high", "global_mean",
                 "nearest", "mu", "sigma"]
    )  # fmt: skip
    if len(cities) < 3:
        return empty
    fold_of_city = dict(
        zip(cities, city_folds(cities, settings.backtest_folds, seed + 1), strict=True)
    )
    fold = np.array([fold_of_city[c] for c in pairs.city_id])
    frames = []
    for k in np.unique(fold):
        train_mask = fold != k
        train = pairs.subset(train_mask)
        if len(np.unique(train.city_id)) < 3:
            continue
        fitted = fit_judgement(train, columns, settings=settings, seed=seed)
        x_all = pairs.context[fitted.design].to_numpy(dtype=float)
        # The nearest-pilot baseline sees every figure, log population included, standardised
        # on the training pilots alone: the same rule whatever the model chose.
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            centre = np.nanmean(x_all[train_mask], axis=0)
            spread = np.nanstd(x_all[train_mask], axis=0)
        spread = np.where(np.isfinite(spread) & (spread > 1e-12), spread, np.inf)
        z_all = np.nan_to_num((x_all - centre) / spread)
        known = set(fitted.model.services_.tolist())
        peers_of = pd.Series(train.service).value_counts()
        held = np.flatnonzero(
            ~train_mask & np.array([v in known and peers_of.get(v, 0) >= 2 for v in pairs.service])
        )
        if held.size == 0:
            continue
        # The held-out city is a stranger to this fit: no city effect of its own.
        mu, sigma, _ = fitted.predict_rows(
            pairs.service[held],
            x_all[held],
            pairs.shares[held],
            city=None,
            country=pairs.country[held],
        )
        predicted, low, high = interval(mu, sigma, settings.level)
        global_mean = np.empty(held.size)
        nearest = np.empty(held.size)
        train_index = np.flatnonzero(train_mask)
        for service in np.unique(pairs.service[held]):
            mine = pairs.service[held] == service
            peers = train_index[pairs.service[train_index] == service]
            d = ((z_all[held[mine]][:, None, :] - z_all[peers][None, :, :]) ** 2).sum(axis=2)
            global_mean[mine] = pairs.uptake[peers].mean()
            nearest[mine] = pairs.uptake[peers][d.argmin(axis=1)]
        frames.append(
            pd.DataFrame(
                {
                    "service": pairs.service[held],
                    "city_id": pairs.city_id[held],
                    "truth": pairs.uptake[held],
                    "predicted": predicted,
                    "low": low,
                    "high": high,
                    "global_mean": global_mean,
                    "nearest": nearest,
                    "mu": mu,
                    "sigma": sigma,
                }
            )
        )
    if not frames:
        return empty
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["service", "city_id"], kind="stable").reset_index(drop=True)


def _standardised(fitted: FittedJudgement, context: pd.DataFrame) -> np.ndarray:
    model = fitted.model
    c = [fitted.design.index(f) for f in fitted.features]
    mean, scale = model.mean_[c], model.scale_[c]
    safe = np.where(scale > 0, scale, 1.0)
    z = (context[fitted.features].to_numpy(float) - mean) / safe * (scale > 0)
    return np.where(np.isfinite(z), z, 0.0)
