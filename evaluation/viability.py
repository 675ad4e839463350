"""Replication viability: the expected uptake of a service in a city that has not piloted it.

The method, per service:

1. **Segment model.** For each pilot city and age band, the band's uptake (citizens per 1,000 of
   the band per month over the pilot's last 6 months, suppressed cells filled from the total) is
   modelled on the log scale as ``a_segment + b · context``: one level per age band, shared
   effects of the standardised context figures (and log population), ridge-penalised.
2. **Post-stratification.** A target city's expected uptake is the sum over age bands of its
   population share times the band's modelled uptake in that city's context. A city missing a
   context figure is judged by a model fitted on the figures it has.
3. **Bands.** Pilot cities are resampled with replacement (bootstrap) and the model refitted; each
   refit's prediction is multiplied by a city-level leave-one-out residual drawn at random, so the
   band holds both the uncertainty of the fit and the unexplained difference between cities.
   The band is the central ``level`` interval of these draws; the expected uptake is the full
   fit corrected by the mean leave-one-out residual (smearing).
4. **Score and verdict.** The score is the share of draws that reach the service's target uptake
   (by default half the median uptake of its pilot cities). ``replicate`` when the score reaches
   ``threshold_replicate``, ``pilot first`` when it reaches ``threshold_pilot``, else
   ``not viable``.
5. **Drivers.** The pilot cities the prediction leaned on (their weight in the linear smoother
   that makes the prediction), the age bands' contributions, and the context figures that moved
   it most (percentage effect against the pilot cities' average).

Without segment shares (the Europe-wide table has none), step 1 models the city's whole uptake
on context alone; the leave-one-out residuals are larger, and so are the bands.
"""

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .tables import SEGMENTS, SHARE_COLUMNS

REPLICATE, PILOT_FIRST, NOT_VIABLE = "replicate", "pilot first", "not viable"
GROUP_COLUMN = "country"  # cities of one country share what no context figure measures
_FLOOR = 0.01  # citizens per 1,000 per month: keeps log() finite for a band nobody used


@dataclass(frozen=True)
class JudgementSettings:
    """Settings of the viability judgement (see ``EvaluationConfig`` for their meaning)."""

    level: float = 0.9
    resamples: int = 200
    backtest_resamples: int = 40
    backtest_max_cities: int = 60
    ridge_alpha: float = 1.0
    target_uptake_ratio: float = 0.5
    target_uptake: float | None = None
    threshold_replicate: float = 0.8
    threshold_pilot: float = 0.4
    min_pilots: int = 3


@dataclass
class Training:
    """The pilot cities of one service, as the model sees them.

    Attributes
    ----------
    city_ids : ndarray
        (n,) pilot city ids.
    log_uptake : ndarray
        (n, g) log uptake per age band, or (n, 1) log whole uptake for the context-only model;
        NaN where unknown.
    context : DataFrame
        (n, c) context figures (NaN allowed).
    shares : ndarray
        (n, g) population shares (ones for the context-only model).
    uptake : ndarray
        (n,) the pilots' observed uptake.
    segments : tuple of str
        The model's segments (the age bands, or ``("all",)``).
    groups : ndarray or None
        (n,) the pilots' country, when the city table has one.
    """

    city_ids: np.ndarray
    log_uptake: np.ndarray
    context: pd.DataFrame
    shares: np.ndarray
    uptake: np.ndarray
    segments: tuple[str, ...]
    groups: np.ndarray | None = None


def context_frame(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The context figures the model uses: the named columns plus ``log_population``.

    Parameters
    ----------
    table : DataFrame
        A validated city table.
    columns : list of str
        The context columns to use.

    Returns
    -------
    DataFrame
        Float columns, NaN where a figure is missing.
    """
    frame = table[columns].astype(float).reset_index(drop=True).copy()
    frame["log_population"] = np.log(table["population"].to_numpy(dtype=float))
    return frame


def training_set(
    pilots: pd.DataFrame, cities: pd.DataFrame, columns: list[str], *, by_segment: bool
) -> Training:
    """Build the training set of one service from its pilot summary rows.

    Parameters
    ----------
    pilots : DataFrame
        The service's rows of ``KpiResult.pilots``.
    cities : DataFrame
        The validated cities table.
    columns : list of str
        Context columns to use.
    by_segment : bool
        Model each age band (needs share columns) or the whole uptake on context alone.

    Returns
    -------
    Training
        Only pilots with a known uptake.
    """
    usable = np.isfinite(pilots["uptake"].to_numpy(dtype=float))
    if by_segment:  # a pilot city without its age shares cannot teach the age-band model
        known = cities[list(SHARE_COLUMNS)].notna().all(axis=1).to_numpy()
        usable &= known[pilots["city_index"].to_numpy()]
    pilots = pilots[usable]
    rows = cities.iloc[pilots["city_index"].to_numpy()].reset_index(drop=True)
    uptake = pilots["uptake"].to_numpy(dtype=float)
    if by_segment:
        rates = pilots[[f"uptake_{s}" for s in SEGMENTS]].to_numpy(dtype=float)
        shares = rows[list(SHARE_COLUMNS)].to_numpy(dtype=float)
        log_uptake = np.where(shares > 0, np.log(rates + _FLOOR), np.nan)
        segments = SEGMENTS
    else:
        log_uptake = np.log(uptake + _FLOOR)[:, None]
        shares = np.ones((len(uptake), 1))
        segments = ("all",)
    groups = rows["country"].astype(str).to_numpy() if GROUP_COLUMN in rows.columns else None
    return Training(
        city_ids=pilots["city_id"].to_numpy(dtype=object),
        log_uptake=log_uptake,
        context=context_frame(rows, columns),
        shares=shares,
        uptake=uptake,
        segments=segments,
        groups=groups,
    )


class _Design:
    """Standardised design of one service and one set of context columns, with batched fits."""

    def __init__(self, train: Training, columns: list[str], alpha: float) -> None:
        raw = train.context[columns].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(raw, axis=0) if raw.size else np.zeros(0)
            sd = np.nanstd(raw, axis=0) if raw.size else np.zeros(0)
        keep = np.isfinite(sd) & (sd > 1e-12)
        self.columns = [c for c, k in zip(columns, keep, strict=True) if k]
        self.mean, self.sd = mean[keep], sd[keep]
        self.g = train.log_uptake.shape[1]
        z = self.standardise(train.context)
        n, g, c = len(train.uptake), self.g, len(self.columns)
        self.p = g + c
        x = np.zeros((n, g, self.p))
        x[:, np.arange(g), np.arange(g)] = 1.0
        x[:, :, g:] = z[:, None, :]
        mask = np.isfinite(train.log_uptake)
        y = np.where(mask, train.log_uptake, 0.0)
        xm = x * mask[:, :, None]
        self.x_city = xm.sum(axis=1)  # (n, p): what each pilot city brings to the normal equations
        self.gram_city = np.einsum("ngp,ngq->npq", xm, x).reshape(n, -1)
        self.rhs_city = np.einsum("ngp,ng->np", xm, y)
        self.penalty = np.diag([1e-8] * g + [alpha] * c)
        self.z_train = z

    def standardise(self, context: pd.DataFrame) -> np.ndarray:
        """Standardised context of some cities, the training mean where a figure is missing."""
        raw = context[self.columns].to_numpy(dtype=float)
        z = (raw - self.mean) / self.sd
        return np.where(np.isfinite(z), z, 0.0)

    def fit(self, weights: np.ndarray) -> np.ndarray:
        """Coefficients for each row of city weights, (k, n) -> (k, p)."""
        k = weights.shape[0]
        gram = (weights @ self.gram_city).reshape(k, self.p, self.p) + self.penalty
        rhs = weights @ self.rhs_city
        return np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]

    def predict(self, beta: np.ndarray, z: np.ndarray, shares: np.ndarray) -> np.ndarray:
        """Whole uptake for each fit and city, (k, p) × (m, c) -> (k, m)."""
        log_u = beta[:, None, : self.g] + (z @ beta[:, self.g :].T).T[:, :, None]
        return (np.exp(log_u) * shares[None, :, :]).sum(axis=2)

    def predict_own(self, beta: np.ndarray, z: np.ndarray, shares: np.ndarray) -> np.ndarray:
        """Whole uptake of the k-th city under the k-th fit, (k, p) × (k, c) -> (k,)."""
        log_u = beta[:, : self.g] + np.einsum("kc,kc->k", z, beta[:, self.g :])[:, None]
        return (np.exp(log_u) * shares).sum(axis=1)


def _loo_residuals(
    design: _Design, train: Training, groups: np.ndarray | None = None
) -> np.ndarray:
    """City-level log residuals of each pilot predicted by a fit without it (or its group)."""
    n = len(train.uptake)
    if groups is None or len(np.unique(groups)) < 3:
        weights = np.ones((n, n)) - np.eye(n)
        beta = design.fit(weights)
    else:
        # Leave the whole group (country) out: what a city of an unseen country should expect.
        labels, group_of = np.unique(groups, return_inverse=True)
        weights = (group_of[None, :] != np.arange(len(labels))[:, None]).astype(float)
        beta = design.fit(weights)[group_of]
    predicted = design.predict_own(beta, design.z_train, train.shares)
    return np.log(train.uptake + _FLOOR) - np.log(predicted + _FLOOR)


@dataclass
class _GroupEffects:
    """Shrunken mean residual of each country, learnt from the pilots' leave-one-out residuals.

    One-way random effects by the method of moments: the between-country variance over the
    within-country variance sets the shrinkage, so a country effect that the data does not show
    is shrunk to nothing, and one pilot city moves its country's cities less than five do.
    """

    shrink: float  # within / between variance; inf when there is no country effect to learn
    sums: dict[str, float]
    counts: dict[str, int]

    @classmethod
    def learn(cls, residuals: np.ndarray, groups: np.ndarray | None) -> "_GroupEffects":
        none = cls(np.inf, {}, {})
        if groups is None:
            return none
        labels, group_of, counts = np.unique(groups, return_inverse=True, return_counts=True)
        n, g = len(residuals), len(labels)
        if g < 2 or n <= g:
            return none
        sums = np.bincount(group_of, weights=residuals, minlength=g)
        means = sums / counts
        within = float(((residuals - means[group_of]) ** 2).sum() / (n - g))
        between_ms = float((counts * (means - residuals.mean()) ** 2).sum() / (g - 1))
        n0 = (n - (counts**2).sum() / n) / (g - 1)
        between = max(0.0, (between_ms - within) / n0)
        if between <= 1e-12:
            return none
        return cls(
            within / between,
            dict(zip(labels.tolist(), sums.tolist(), strict=True)),
            dict(zip(labels.tolist(), counts.tolist(), strict=True)),
        )

    @property
    def active(self) -> bool:
        return bool(np.isfinite(self.shrink))

    def effect(self, groups: np.ndarray) -> np.ndarray:
        """Log-scale correction for cities of these groups (0 for a group without pilots)."""
        if not self.active:
            return np.zeros(len(groups))
        return np.array(
            [self.sums.get(g, 0.0) / (self.counts.get(g, 0) + self.shrink) for g in groups]
        )

    def effect_without_self(self, residuals: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Each pilot's country correction learnt from the other pilots of its country."""
        if not self.active:
            return np.zeros(len(groups))
        sums = np.array([self.sums[g] for g in groups]) - residuals
        counts = np.array([self.counts[g] for g in groups]) - 1
        return sums / (counts + self.shrink)


def _bootstrap_weights(rng: np.random.Generator, n: int, count: int) -> np.ndarray:
    return rng.multinomial(n, np.full(n, 1.0 / n), size=count).astype(float)


def target_uptake(train: Training, settings: JudgementSettings) -> float:
    """The uptake a city must reach for the service to be worth replicating there.

    Parameters
    ----------
    train : Training
        The service's pilot cities.
    settings : JudgementSettings
        ``target_uptake`` when set, else ``target_uptake_ratio`` × the median pilot uptake.

    Returns
    -------
    float
        Citizens per 1,000 inhabitants per month.
    """
    if settings.target_uptake is not None:
        return float(settings.target_uptake)
    return float(settings.target_uptake_ratio * np.median(train.uptake))


def verdicts(score: np.ndarray, settings: JudgementSettings) -> np.ndarray:
    """Verdict of each score: replicate, pilot first or not viable.

    Parameters
    ----------
    score : ndarray
        Probabilities of reaching the target uptake.
    settings : JudgementSettings
        ``threshold_replicate`` and ``threshold_pilot``.

    Returns
    -------
    ndarray
        ``replicate`` from ``threshold_replicate``, ``pilot first`` from ``threshold_pilot``,
        else ``not viable`` (NaN scores are not viable).
    """
    return np.where(
        score >= settings.threshold_replicate,
        REPLICATE,
        np.where(score >= settings.threshold_pilot, PILOT_FIRST, NOT_VIABLE),
    )


@dataclass
class Judgement:
    """The judgement of one service in a set of target cities (arrays aligned with the targets)."""

    expected: np.ndarray
    low: np.ndarray
    high: np.ndarray
    score: np.ndarray
    verdict: np.ndarray
    drivers: list[str]


def judge(
    train: Training,
    targets: pd.DataFrame,
    target_shares: np.ndarray,
    columns: list[str],
    *,
    settings: JudgementSettings,
    rng: np.random.Generator,
    with_drivers: bool = True,
    target_groups: np.ndarray | None = None,
) -> Judgement:
    """Judge one service in target cities.

    Parameters
    ----------
    train : Training
        The service's pilot cities.
    targets : DataFrame
        Context of the target cities (as from ``context_frame``).
    target_shares : ndarray
        (m, g) population shares of the target cities (ones for the context-only model).
    columns : list of str
        Context columns (``log_population`` is added).
    settings : JudgementSettings
        Thresholds, band level, resamples.
    rng : numpy Generator
        The random generator (seeded by the caller).
    with_drivers : bool
        Whether to explain each prediction.
    target_groups : ndarray, optional
        The target cities' country. With the pilots' countries (``train.groups``), a target in a
        country with pilots gets that country's shrunken mean residual and a band from the
        residuals left after it; a target in a country without pilots gets a band from
        residuals that leave out a whole country at a time (wider, as it should be).

    Returns
    -------
    Judgement
        Expected uptake, band, score, verdict and drivers per target city.
    """
    m = len(targets)
    n = len(train.uptake)
    expected, low, high, score = (np.full(m, np.nan) for _ in range(4))
    drivers = [""] * m
    goal = target_uptake(train, settings) if n else np.nan
    if n < settings.min_pilots:
        note = json.dumps(
            {"note": f"only {n} pilot cities with a known uptake; pilot it elsewhere first"}
        )
        expected[:] = train.uptake.mean() if n else np.nan
        verdict = np.full(m, PILOT_FIRST, dtype=object)
        return Judgement(expected, low, high, score, verdict, [note] * m)
    all_columns = [*columns, "log_population"]
    available = targets[all_columns].notna().to_numpy()
    patterns, pattern_of = np.unique(available, axis=0, return_inverse=True)
    q = (1 - settings.level) / 2
    for index, pattern in enumerate(patterns):
        chosen = np.flatnonzero(pattern_of.ravel() == index)
        use = [c for c, ok in zip(all_columns, pattern, strict=True) if ok]
        design = _Design(train, use, settings.ridge_alpha)
        residuals = _loo_residuals(design, train)
        z = design.standardise(targets.iloc[chosen])
        shares = target_shares[chosen]
        beta_full = design.fit(np.ones((1, n)))
        base = design.predict(beta_full, z, shares)[0]
        beta_boot = design.fit(_bootstrap_weights(rng, n, settings.resamples))
        draws = design.predict(beta_boot, z, shares)
        effects = _GroupEffects.learn(residuals, train.groups)
        if effects.active and target_groups is not None:
            groups = np.asarray(target_groups)[chosen].astype(str)
            seen = np.array([g in effects.counts for g in groups])
            country = effects.effect(groups)
            # Residuals left once the pilot's own country is accounted for (from its peers) ...
            after = residuals - effects.effect_without_self(residuals, train.groups)
            # ... and, for countries without pilots, residuals of fits without the whole country.
            unseen = _loo_residuals(design, train, train.groups)
            pool = np.where(
                seen[None, :],
                after[rng.integers(0, n, draws.shape)],
                unseen[rng.integers(0, n, draws.shape)],
            )
            smear = np.where(seen, np.mean(np.exp(after)), np.mean(np.exp(unseen)))
            point = base * np.exp(country) * smear
            draws = draws * np.exp(country)[None, :] * np.exp(pool)
        else:
            country = np.zeros(len(chosen))
            point = base * np.mean(np.exp(residuals))
            draws = draws * np.exp(residuals[rng.integers(0, n, draws.shape)])
        expected[chosen] = point
        low[chosen] = np.quantile(draws, q, axis=0)
        high[chosen] = np.quantile(draws, 1 - q, axis=0)
        score[chosen] = (draws >= goal).mean(axis=0)
        if with_drivers:
            explained = _explain(
                design, train, beta_full[0], z, shares, targets.iloc[chosen], country
            )
            for i, text in zip(chosen, explained, strict=True):
                drivers[i] = text
    return Judgement(expected, low, high, score, verdicts(score, settings), drivers)


def _explain(
    design: _Design,
    train: Training,
    beta: np.ndarray,
    z: np.ndarray,
    shares: np.ndarray,
    targets: pd.DataFrame,
    country: np.ndarray,
) -> list[str]:
    """Drivers of each prediction as a JSON text: pilot cities, segments, context, country."""
    g = design.g
    log_u = beta[None, :g] + (z @ beta[g:])[:, None]
    parts = np.exp(log_u) * shares  # (m, g) uptake each band brings
    weight = parts / parts.sum(axis=1, keepdims=True)
    x_target = np.zeros((len(z), design.p))
    x_target[:, :g] = weight
    x_target[:, g:] = z
    gram = design.gram_city.sum(axis=0).reshape(design.p, design.p) + design.penalty
    leaning = x_target @ np.linalg.solve(gram, design.x_city.T)  # (m, n) smoother weights
    effects = z * beta[g:]  # log-scale effect of each figure against the pilots' average
    uptake = np.exp(log_u)
    mix = (shares - train.shares.mean(axis=0)) * uptake
    # Everything is computed on whole arrays first; the loop only assembles small dicts.
    top = np.argsort(-leaning, axis=1)[:, :3]
    top_weight = np.round(np.take_along_axis(leaning, top, axis=1), 3).tolist()
    top_ids = train.city_ids[top].astype(str).tolist()
    seg_order = np.argsort(-parts, axis=1).tolist()
    share_r = np.round(shares, 4).tolist()
    uptake_r = np.round(uptake, 3).tolist()
    parts_r = np.round(parts, 3).tolist()
    mix_r = np.round(mix, 3).tolist()
    order = np.argsort(-np.abs(effects), axis=1)[:, :3]
    raw = targets[design.columns].to_numpy(dtype=float)
    values = np.take_along_axis(raw, order, axis=1) if design.columns else np.zeros((len(z), 0))
    values = [[_round(v) for v in row] for row in values.tolist()]
    pct = np.round(np.expm1(np.take_along_axis(effects, order, axis=1)) * 100, 1).tolist()
    figures = [[design.columns[j] for j in row] for row in order.tolist()]
    model = "age bands" if train.segments != ("all",) else "context alone"
    names = train.segments
    country_pct = np.round(np.expm1(country) * 100, 1).tolist()
    texts = []
    for i in range(len(z)):
        drivers = {
            "model": model,
            "pilots": [
                {"city_id": c, "weight": w} for c, w in zip(top_ids[i], top_weight[i], strict=True)
            ],
            "segments": [
                {
                    "segment": names[k],
                    "share": share_r[i][k],
                    "uptake": uptake_r[i][k],
                    "contribution": parts_r[i][k],
                    "mix_effect": mix_r[i][k],
                }
                for k in seg_order[i]
            ],
            "context": [
                {"figure": f, "value": v, "effect_pct": e}
                for f, v, e in zip(figures[i], values[i], pct[i], strict=True)
            ],
        }
        if country[i] != 0:
            drivers["country_effect_pct"] = country_pct[i]
        texts.append(json.dumps(drivers))
    return texts


def _round(value: float) -> float | None:
    return None if not np.isfinite(value) else float(f"{value:.4g}")


@dataclass
class Backtest:
    """Leave-one-pilot-out predictions of one service."""

    city_ids: np.ndarray
    truth: np.ndarray
    predicted: np.ndarray
    low: np.ndarray
    high: np.ndarray
    global_mean: np.ndarray
    nearest: np.ndarray


def backtest(
    train: Training,
    columns: list[str],
    *,
    settings: JudgementSettings,
    rng: np.random.Generator,
) -> Backtest | None:
    """Leave each pilot city out, predict its uptake from the others and from two baselines.

    Parameters
    ----------
    train : Training
        The service's pilot cities.
    columns : list of str
        Context columns.
    settings : JudgementSettings
        Band level, resamples, ``backtest_max_cities`` (a seeded sample of held-out cities when a
        service has more pilots, to bound the time).
    rng : numpy Generator
        The random generator.

    Returns
    -------
    Backtest or None
        None when the service has too few pilots to leave one out.
    """
    n = len(train.uptake)
    if n < settings.min_pilots + 1:
        return None
    design = _Design(train, [*columns, "log_population"], settings.ridge_alpha)
    residuals = _loo_residuals(design, train)
    held = np.arange(n)
    if n > settings.backtest_max_cities:
        held = np.sort(rng.choice(n, settings.backtest_max_cities, replace=False))
    b = settings.backtest_resamples
    # Row 0 of each block: every other pilot once; rows 1..b: bootstrap resamples of the others.
    others = np.array([np.delete(np.arange(n), i) for i in held])  # (h, n - 1)
    picks = np.take_along_axis(
        others[:, None, :].repeat(b, axis=1),
        rng.integers(0, n - 1, (held.size, b, n - 1)),
        axis=2,
    )  # (h, b, n - 1) city indexes
    row_of = np.arange(held.size)[:, None, None] * (b + 1) + np.arange(1, b + 1)[None, :, None]
    counts = np.bincount((row_of * n + picks).ravel(), minlength=held.size * (b + 1) * n)
    weights = counts.reshape(held.size, b + 1, n).astype(float)
    weights[:, 0, :] = 1.0
    weights[np.arange(held.size), 0, held] = 0.0
    weights = weights.reshape(held.size * (b + 1), n)
    beta = design.fit(weights)
    owner = np.repeat(held, b + 1)
    predicted = design.predict_own(beta, design.z_train[owner], train.shares[owner])
    predicted = predicted.reshape(held.size, b + 1)
    q = (1 - settings.level) / 2
    effects = _GroupEffects.learn(residuals, train.groups)
    if effects.active:
        # The held-out city's country correction comes from the other pilots of its country.
        own = effects.effect_without_self(residuals, train.groups)
        predicted = predicted * np.exp(own[held])[:, None]
        residuals = residuals - own
    # Each held-out city's residuals are the other pilots' own leave-one-out residuals.
    rest = np.take_along_axis(residuals[None, :].repeat(held.size, axis=0), others, axis=1)
    point = predicted[:, 0] * np.exp(rest).mean(axis=1)
    drawn = np.take_along_axis(rest, rng.integers(0, n - 1, (held.size, b)), axis=1)
    draws = predicted[:, 1:] * np.exp(drawn)
    low, high = np.quantile(draws, q, axis=1), np.quantile(draws, 1 - q, axis=1)
    total = train.uptake.sum()
    global_mean = (total - train.uptake[held]) / (n - 1)
    distance = ((design.z_train[held, None, :] - design.z_train[None, :, :]) ** 2).sum(axis=2)
    distance[np.arange(held.size), held] = np.inf
    nearest = train.uptake[distance.argmin(axis=1)]
    return Backtest(
        city_ids=train.city_ids[held],
        truth=train.uptake[held],
        predicted=point,
        low=low,
        high=high,
        global_mean=global_mean,
        nearest=nearest,
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation, NaN when either side is constant or too short.

    Parameters
    ----------
    a, b : ndarray
        Paired values; pairs with a NaN are left out.

    Returns
    -------
    float
        The correlation, or NaN with fewer than 3 pairs or a constant side.
    """
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(stats.spearmanr(a[ok], b[ok]).statistic)
