"""A generated federation with known truth, to test and benchmark the evaluation.

Each city has a population, segment shares and context figures driven by two hidden traits
(how digital it is, how good its e-government is). Each service has its own uptake rate per
segment and its own response to those traits; each city adds unexplained noise. Pilot cities
report monthly cells the way the nodes do: counts per segment and per channel, duration
histograms, and small cells suppressed (primary and secondary), so missing is not zero.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import erf

from federation.protocol.vocabulary import (
    CHANNEL_FAMILY,
    DURATION_BUCKET_UPPER_HOURS,
    Channel,
    ChannelFamily,
    duration_bucket_names,
)

from .tables import CHANNELS, OBSERVED_SEGMENTS, SEGMENTS

COUNTRIES = ("AT", "BE", "DE", "EL", "ES", "FI", "IT", "NL", "PL", "PT")
# Mean log multiplier of each segment's uptake relative to 25-54, and its spread across services.
_SEGMENT_LOG_MULT = {
    "16-24": (0.2, 0.4),
    "25-54": (0.0, 0.0),
    "55-74": (-0.5, 0.4),
    "75+": (-1.5, 0.5),
}
_DIGITAL_SPLIT = {"web": 0.45, "app": 0.35, "sms": 0.1, "email": 0.1}
_ASSISTED_SPLIT = {"phone": 0.7, "counter": 0.3}


@dataclass(frozen=True)
class World:
    """A generated federation: the two input tables and the truth behind them.

    Attributes
    ----------
    cities : DataFrame
        The ``cities.csv`` table.
    observations : DataFrame
        The ``observations.csv`` table of the pilot cities (suppressed cells absent).
    truth : DataFrame
        ``service``, ``city_id``, ``uptake`` (the expected pilot uptake: citizens per 1,000
        inhabitants per month over the last 6 months of an 18-month pilot), ``piloted``,
        ``uptake_without_luck`` (the same without the city's own unexplained noise, which no
        table shows: the best any judgement could know) and ``uptake_without_luck_or_country``
        (without the country's own effect either).
    services : DataFrame
        The hidden parameters of each service.
    """

    cities: pd.DataFrame
    observations: pd.DataFrame
    truth: pd.DataFrame
    services: pd.DataFrame


def _periods(first: str, n: int) -> list[str]:
    return [str(p) for p in pd.period_range(first, periods=n, freq="M")]


def suppress(values: np.ndarray, k: float) -> np.ndarray:
    """Suppress cells below k, then a lone suppressed cell's smallest peer (secondary)."""
    out = values.astype(float).copy()
    small = out < k
    lone = small.sum(axis=1) == 1
    if lone.any() and out.shape[1] > 1:
        peers = np.where(small, np.inf, out)[lone]
        second = peers.argmin(axis=1)
        rows = np.flatnonzero(lone)
        small[rows, second] = True
    out[small] = np.nan
    return out


TOTAL_NAMES = (
    "citizens",
    "submitted",
    "acknowledged",
    "completed",
    "completed_within_sla",
    "satisfaction_sum",
    "satisfaction_count",
)

Cells = list[tuple[np.ndarray, list[tuple[str, str, str]]]]


def truth_table(
    services: list[str],
    city_ids: list[str],
    *,
    uptake: np.ndarray,
    piloted: np.ndarray,
    without_luck: np.ndarray,
    without_luck_or_country: np.ndarray,
) -> pd.DataFrame:
    """The ``truth`` table of a World (see there) from its (service, city) matrices.

    Parameters
    ----------
    services, city_ids : list of str
        The rows and columns of the matrices.
    uptake, piloted, without_luck, without_luck_or_country : ndarray of shape (S, N)
        The expected uptake, whether the city pilots the service, and the uptake less the
        city's own luck, and less its country's effect too.

    Returns
    -------
    DataFrame
        One row per (service, city), services outermost.
    """
    return pd.DataFrame(
        {
            "service": np.repeat(services, len(city_ids)),
            "city_id": np.tile(city_ids, len(services)),
            "uptake": uptake.ravel(),
            "piloted": piloted.ravel(),
            "uptake_without_luck": without_luck.ravel(),
            "uptake_without_luck_or_country": without_luck_or_country.ravel(),
        }
    )


def published_cells(
    *,
    k: float,
    citizens_seg: np.ndarray,
    submitted_seg: np.ndarray,
    submitted_ch: np.ndarray,
    completed_ch: np.ndarray,
    totals: np.ndarray,
    histograms: dict[str, np.ndarray],
) -> Cells:
    """What a node publishes of each pilot month: matrices of cells with their labels.

    Parameters
    ----------
    k : float
        The suppression threshold: a cell below it is absent, and so is a lone one's peer.
    citizens_seg, submitted_seg : ndarray of shape (n_months, len(OBSERVED_SEGMENTS))
        Citizens and requests per segment.
    submitted_ch, completed_ch : ndarray of shape (n_months, len(CHANNELS))
        Requests submitted and completed per channel.
    totals : ndarray of shape (n_months, len(TOTAL_NAMES))
        The month's totals, in ``TOTAL_NAMES`` order; each is suppressed on its own.
    histograms : dict of str to ndarray
        Per duration prefix, the counts in the federation's hour buckets.

    Returns
    -------
    list of (ndarray, list of (segment, channel, measure))
        Each matrix with suppressed cells as NaN, and the label of each of its columns.
    """
    cells: Cells = [
        (suppress(citizens_seg, k), [(g, "all", "citizens") for g in OBSERVED_SEGMENTS]),
        (suppress(submitted_seg, k), [(g, "all", "submitted") for g in OBSERVED_SEGMENTS]),
        (suppress(submitted_ch, k), [("all", c, "submitted") for c in CHANNELS]),
        (suppress(completed_ch, k), [("all", c, "completed") for c in CHANNELS]),
        (np.where(totals < k, np.nan, totals), [("all", "all", t) for t in TOTAL_NAMES]),
    ]
    for prefix, hist in histograms.items():
        names = duration_bucket_names(prefix)
        cells.append((suppress(hist, k), [("all", "all", name) for name in names]))
    return cells


def observations_table(
    cells: Cells,
    *,
    city: np.ndarray,
    service: np.ndarray,
    period: np.ndarray,
    city_ids: list[str],
    services: list[str],
    periods: list[str],
) -> pd.DataFrame:
    """The ``observations.csv`` table of published cells, ordered by pilot month.

    Parameters
    ----------
    cells : list of (ndarray, list of (segment, channel, measure))
        As ``published_cells`` returns them; a NaN cell is absent from the table.
    city, service, period : ndarray of int of shape (n_months,)
        Each pilot month's index into ``city_ids``, ``services`` and ``periods``.
    city_ids, services, periods : list of str
        The names those indices stand for.

    Returns
    -------
    DataFrame
        ``city_id``, ``service``, ``period``, ``segment``, ``channel``, ``measure``, ``value``.
    """
    columns: dict[str, list[np.ndarray]] = {k_: [] for k_ in ("row", "seg", "ch", "meas", "value")}
    for matrix, labels in cells:
        for j, (segment, channel, measure) in enumerate(labels):
            rows = np.flatnonzero(~np.isnan(matrix[:, j]))
            columns["row"].append(rows)
            columns["seg"].append(np.full(rows.size, segment, dtype=object))
            columns["ch"].append(np.full(rows.size, channel, dtype=object))
            columns["meas"].append(np.full(rows.size, measure, dtype=object))
            columns["value"].append(matrix[rows, j])
    row = np.concatenate(columns["row"])
    order = np.argsort(row, kind="stable")
    row = row[order]
    return pd.DataFrame(
        {
            "city_id": pd.Categorical.from_codes(city[row], categories=city_ids),
            "service": pd.Categorical.from_codes(service[row], categories=services),
            "period": pd.Categorical.from_codes(period[row], categories=periods),
            "segment": pd.Categorical(np.concatenate(columns["seg"])[order]),
            "channel": pd.Categorical(np.concatenate(columns["ch"])[order]),
            "measure": pd.Categorical(np.concatenate(columns["meas"])[order]),
            "value": np.concatenate(columns["value"])[order],
        }
    )


def generate_world(
    *,
    n_cities: int = 60,
    n_services: int = 6,
    n_periods: int = 18,
    pilot_fraction: float = 0.4,
    noise: float = 0.15,
    country_noise: float = 0.15,
    suppress_below: float = 10,
    histograms: bool = True,
    first_period: str = "2025-01",
    seed: int = 0,
) -> World:
    """Generate a federation with known truth.

    Parameters
    ----------
    n_cities, n_services, n_periods : int
        Size of the world; every pilot runs the last ``n_periods`` months, some start up to three
        months late.
    pilot_fraction : float
        Share of the cities that pilot each service.
    noise : float
        Standard deviation of the unexplained log uptake of each city and service.
    country_noise : float
        Standard deviation of each country's own log uptake of each service: what national
        portals, e-ID or habits add that no context figure measures.
    suppress_below : float
        The suppression threshold k: cells below it are not reported.
    histograms : bool
        Whether to report the duration histograms.
    first_period : str
        The first month, ``YYYY-MM``.
    seed : int
        Seed of the random generator: the same seed gives the same world.

    Returns
    -------
    World
        The tables and the truth.
    """
    rng = np.random.default_rng(seed)
    n, s_count = n_cities, n_services
    digital = rng.normal(size=n)
    egov = rng.normal(size=n)
    age = rng.normal(size=n)
    city_ids = [f"C{i:04d}" for i in range(n)]
    shares = np.column_stack(
        [
            0.10 - 0.01 * age + rng.normal(0, 0.008, n),
            0.42 - 0.04 * age + rng.normal(0, 0.015, n),
            0.25 + 0.03 * age + rng.normal(0, 0.012, n),
            0.08 + 0.02 * age + rng.normal(0, 0.008, n),
        ]
    ).clip(0.02, 0.7)
    population = np.exp(rng.normal(np.log(200_000), 0.8, n)).clip(20_000, 3_000_000).round()
    cities = pd.DataFrame(
        {
            "city_id": city_ids,
            "country": rng.choice(COUNTRIES, n),
            "population": population,
            "internet_use_pct": (85 + 6 * digital + rng.normal(0, 2, n)).clip(50, 99.8).round(2),
            "internet_use_55_74_pct": (70 + 12 * digital - 3 * age + rng.normal(0, 3, n))
            .clip(20, 99.5)
            .round(2),
            "digital_skills_basic_pct": (55 + 10 * digital + rng.normal(0, 4, n))
            .clip(20, 85)
            .round(2),
            "egov_index_2018": (0.78 + 0.06 * egov + 0.02 * digital + rng.normal(0, 0.01, n))
            .clip(0.5, 0.95)
            .round(4),
            "online_service_index_2018": (0.8 + 0.08 * egov + rng.normal(0, 0.03, n))
            .clip(0.4, 1.0)
            .round(4),
        }
    )
    for j, segment in enumerate(SEGMENTS):
        cities[f"share_{segment}"] = shares[:, j].round(4)
    shares = cities[[f"share_{s}" for s in SEGMENTS]].to_numpy()

    services = [f"service-{j:02d}" for j in range(s_count)]
    base = rng.normal(np.log(4.0), 0.5, s_count)
    mult = np.column_stack(
        [rng.normal(*_SEGMENT_LOG_MULT[g], s_count) for g in SEGMENTS]
    )  # (S, G) log multipliers
    gamma = rng.normal(0.35, 0.1, s_count)
    delta = rng.normal(0.15, 0.1, s_count)
    completion = rng.uniform(0.8, 0.97, s_count)
    sla = rng.uniform(0.7, 0.95, s_count)
    median_hours = rng.uniform(24, 120, s_count)
    digital_offset = rng.normal(0, 0.5, s_count)
    services_table = pd.DataFrame({"service": services, "log_base": base, "digital_effect": gamma})
    for j, segment in enumerate(SEGMENTS):
        services_table[f"log_mult_{segment}"] = mult[:, j]

    country_of = pd.Categorical(cities["country"], categories=COUNTRIES).codes
    national = rng.normal(0, country_noise, (s_count, len(COUNTRIES)))
    luck = rng.normal(0, noise, (s_count, n))
    eps = luck + national[:, country_of]
    log_rate = (
        base[:, None, None]
        + mult[:, None, :]
        + (gamma[:, None] * digital[None, :] + delta[:, None] * egov[None, :] + eps)[:, :, None]
    )  # (S, N, G) citizens per 1,000 of the segment per month at steady state
    rate = np.exp(log_rate)
    tau = 2.0
    ramp_full = 1 - np.exp(-(np.arange(n_periods) + 1) / tau)
    truth_uptake = (rate * shares[None, :, :]).sum(axis=2) * ramp_full[-6:].mean()
    # The city's luck multiplies every band alike, so taking it out of the sum is exact.
    without_luck = truth_uptake * np.exp(-luck)
    without_country = without_luck * np.exp(-national[:, country_of])

    n_pilots = max(1, round(pilot_fraction * n))
    piloted = np.zeros((s_count, n), dtype=bool)
    for j in range(s_count):
        piloted[j, rng.choice(n, n_pilots, replace=False)] = True
    truth = truth_table(
        services,
        city_ids,
        uptake=truth_uptake,
        piloted=piloted,
        without_luck=without_luck,
        without_luck_or_country=without_country,
    )

    pilot_s, pilot_c = np.nonzero(piloted)
    start = rng.integers(0, 4, pilot_s.size)
    periods = _periods(first_period, n_periods)
    t_index = np.arange(n_periods)
    keep = t_index[None, :] >= start[:, None]  # (P, T)
    p_idx, t_idx = np.nonzero(keep)
    months_in = t_idx - start[p_idx]
    ramp = 1 - np.exp(-(months_in + 1) / tau)
    srv, cty = pilot_s[p_idx], pilot_c[p_idx]
    m = p_idx.size

    seg_pop = population[cty, None] * shares[cty]  # (M, G)
    lam = seg_pop * rate[srv, cty] * ramp[:, None] / 1000
    # Some citizens never give their age: they come from every band, so the total keeps its mean.
    citizens_seg = rng.poisson(0.96 * lam).astype(float)
    unknown = rng.poisson(0.04 * lam.sum(axis=1)).astype(float)
    citizens_seg = np.column_stack([citizens_seg, unknown])  # (M, 5) in OBSERVED_SEGMENTS order
    citizens = citizens_seg.sum(axis=1)
    submitted_seg = citizens_seg + rng.poisson(0.2 * citizens_seg)
    submitted = submitted_seg.sum(axis=1)

    p_digital = 1 / (1 + np.exp(-(0.8 + 0.8 * digital[cty] + digital_offset[srv])))
    probs = np.empty((m, len(CHANNELS)))
    for j, channel in enumerate(CHANNELS):
        family = CHANNEL_FAMILY[Channel(channel)]
        if family is ChannelFamily.DIGITAL:
            probs[:, j] = p_digital * _DIGITAL_SPLIT[channel]
        elif family is ChannelFamily.ASSISTED:
            probs[:, j] = (1 - p_digital) * _ASSISTED_SPLIT[channel]
        else:  # requests staff raise themselves are not part of the generated world
            probs[:, j] = 0.0
    submitted_ch = rng.multinomial(submitted.astype(np.int64), probs).astype(float)
    completed_ch = rng.binomial(submitted_ch.astype(np.int64), completion[srv, None]).astype(float)
    completed = completed_ch.sum(axis=1)
    within_sla = rng.binomial(completed.astype(np.int64), sla[srv]).astype(float)
    acknowledged = submitted.copy()
    sat_count = rng.binomial(completed.astype(np.int64), 0.3)
    sat_probs = np.array([0.05, 0.08, 0.17, 0.4, 0.3])
    sat_scores = rng.multinomial(sat_count, sat_probs)
    sat_sum = (sat_scores * np.arange(1, 6)).sum(axis=1).astype(float)

    totals = np.column_stack(
        [citizens, submitted, acknowledged, completed, within_sla, sat_sum, sat_count]
    )
    durations: dict[str, np.ndarray] = {}
    if histograms:
        edges = np.log(np.array(DURATION_BUCKET_UPPER_HOURS, dtype=float))
        for prefix, medians, count in (
            ("time_to_complete", median_hours[srv], completed),
            ("time_to_acknowledge", np.full(m, 6.0), acknowledged),
        ):
            z = (edges[None, :] - np.log(medians)[:, None]) / 1.0
            cdf = 0.5 * (1 + erf(z / np.sqrt(2)))
            bucket_p = np.diff(np.column_stack([np.zeros(m), cdf, np.ones(m)]), axis=1)
            durations[prefix] = rng.multinomial(count.astype(np.int64), bucket_p).astype(float)
    cells = published_cells(
        k=suppress_below,
        citizens_seg=citizens_seg,
        submitted_seg=submitted_seg,
        submitted_ch=submitted_ch,
        completed_ch=completed_ch,
        totals=totals,
        histograms=durations,
    )
    observations = observations_table(
        cells,
        city=cty,
        service=srv,
        period=t_idx,
        city_ids=city_ids,
        services=services,
        periods=periods,
    )
    return World(cities=cities, observations=observations, truth=truth, services=services_table)
