"""A second generated federation, built differently from ``evaluation.synthetic``.

The judgement is checked on both, so that it is built for the structure of the problem and not
for one generator. Here, unlike there:

- the context figures are national, as in ``carmen/data/eu_cities.csv`` (every city of a country
  shares its internet use, skills and e-government figures), and only population, the age mix and
  broadband coverage are the city's own; a figure that has nothing to do with uptake (tourism) is
  among them, and broadband is unknown for some cities;
- uptake is a smooth function of single-year age, with a peak and a width of its own per service,
  so an age band's rate depends on how the city's people are spread inside the band (a
  university town's 16-24 are mostly 20, a seaside town's 55-74 mostly 70);
- context acts multiplicatively and with interactions: internet use matters more for older people,
  and internet use and e-government reinforce each other; population has a small effect of its
  own, with a sign per service;
- city sizes are uneven (a Pareto tail from small towns to a few large cities), so many small
  cells are suppressed, and the cities that pilot are the larger and more connected ones;
- each service has its own, small number of pilots (6 to 14 by default), with staggered starts,
  a logistic ramp-up, a season, and a month-to-month shock shared by a city's age bands (monthly
  counts are negative binomial, not Poisson); a few pilot months are not reported at all;
- the share of citizens who never give their age differs from city to city, and some cities
  publish no age mix.

The files are the ones ``carmen evaluate`` reads (``cities.csv`` and ``observations.csv``).
"""

import numpy as np
import pandas as pd
from scipy import stats

from federation.protocol.vocabulary import (
    CHANNEL_FAMILY,
    DURATION_BUCKET_UPPER_HOURS,
    Channel,
    ChannelFamily,
)

from .synthetic import World, observations_table, published_cells, truth_table
from .tables import CHANNELS, SEGMENTS

COUNTRIES = ("CZ", "DK", "FR", "HU", "IE", "LT", "SE", "SK")
_COUNTRY_WEIGHTS = np.array([0.1, 0.08, 0.3, 0.1, 0.06, 0.04, 0.12, 0.2])
_AGES = np.arange(100)
# First and last single-year age of each federation age band, in SEGMENTS order.
_BANDS = {"16-24": (16, 24), "25-54": (25, 54), "55-74": (55, 74), "75+": (75, 99)}
_MONTHS_SEEN = 6  # the pilot's uptake is the mean of its last six months


def _age_mix(rng: np.random.Generator, n: int, national_ageing: np.ndarray) -> np.ndarray:
    """Each city's share of people at each single-year age 0-99, shape (n, 100)."""
    ageing = national_ageing + rng.normal(0, 0.3, n)
    students = rng.random(n) < 0.2
    seaside = rng.random(n) < 0.15
    a = _AGES[None, :]
    density = np.exp(ageing[:, None] * (a - 40) / 40) * np.exp(-((a / 84) ** 7))
    density = density / density.sum(axis=1, keepdims=True)
    density += students[:, None] * 0.012 * np.exp(-0.5 * ((a - 21) / 2.5) ** 2)
    density += seaside[:, None] * 0.006 * np.exp(-0.5 * ((a - 69) / 4) ** 2)
    return density / density.sum(axis=1, keepdims=True)


def _band_sum(values: np.ndarray) -> np.ndarray:
    """Sum a (..., 100) array of single-year figures into the four age bands."""
    return np.stack([values[..., lo : hi + 1].sum(axis=-1) for lo, hi in _BANDS.values()], -1)


def _duration_histogram(
    rng: np.random.Generator, count: np.ndarray, shape: float, median_hours: np.ndarray
) -> np.ndarray:
    """Gamma-distributed durations, counted in the federation's fixed hour buckets."""
    scale = median_hours / stats.gamma.median(shape)
    edges = np.array(DURATION_BUCKET_UPPER_HOURS, dtype=float)
    cdf = stats.gamma.cdf(edges[None, :], shape, scale=scale[:, None])
    probs = np.diff(np.column_stack([np.zeros(count.size), cdf, np.ones(count.size)]), axis=1)
    return rng.multinomial(count.astype(np.int64), probs).astype(float)


def generate_alt_world(
    *,
    n_cities: int = 80,
    n_services: int = 8,
    n_periods: int = 18,
    pilots: tuple[int, int] = (6, 14),
    noise: float = 0.15,
    city_noise: float = 0.12,
    country_noise: float = 0.12,
    dispersion: float = 12.0,
    missing_age_mix: float = 0.15,
    suppress_below: float = 10,
    first_period: str = "2025-01",
    seed: int = 0,
) -> World:
    """Generate a federation with known truth, differently from ``generate_world``.

    Parameters
    ----------
    n_cities, n_services, n_periods : int
        Size of the world; a pilot runs up to ``n_periods`` months, starting up to four late.
    pilots : tuple of int
        Fewest and most pilot cities of a service (each service draws its own number).
    noise : float
        Standard deviation of the unexplained log uptake of each city and service.
    city_noise : float
        Standard deviation of each city's own log uptake shared by all its services.
    country_noise : float
        Standard deviation of each country's own log uptake of each service.
    dispersion : float
        Shape of the monthly gamma shock (smaller: more overdispersed counts).
    missing_age_mix : float
        Share of the cities that publish no age mix.
    suppress_below : float
        The suppression threshold k: cells below it are not reported.
    first_period : str
        The first month, ``YYYY-MM``.
    seed : int
        Seed of the random generator: the same seed gives the same world.

    Returns
    -------
    World
        ``cities`` and ``observations`` as ``carmen evaluate`` reads them; ``truth`` with
        ``service``, ``city_id``, ``uptake`` (expected citizens per 1,000 inhabitants per month
        over the last six months of a full pilot), ``piloted``, ``uptake_without_luck`` (without
        the city's own noise, shared or per service, which no table shows) and
        ``uptake_without_luck_or_country``; ``services`` with each service's hidden parameters.
    """
    rng = np.random.default_rng(seed)
    n, s_count = n_cities, n_services
    k = len(COUNTRIES)
    country = rng.choice(k, n, p=_COUNTRY_WEIGHTS)
    internet = rng.uniform(72, 97, k)
    skills = (internet - 30 + rng.normal(0, 4, k)).clip(25, 85)
    egov = rng.uniform(0.55, 0.92, k)
    online = (egov + rng.normal(0, 0.04, k)).clip(0.4, 1.0)
    national_ageing = rng.normal(0, 0.25, k)

    population = (15_000 * (1 + rng.pareto(1.1, n))).clip(5_000, 4_000_000).round()
    log_pop = np.log(population)
    ages = _age_mix(rng, n, national_ageing[country])  # (N, 100)
    band_share = _band_sum(ages)  # (N, 4)
    broadband = (
        internet[country] - 6 + 2.5 * (log_pop - log_pop.mean()) + rng.normal(0, 3, n)
    ).clip(40, 99.5)
    tourism = np.exp(rng.normal(1.0, 0.9, n))

    city_ids = [f"A{i:03d}" for i in range(n)]
    cities = pd.DataFrame(
        {
            "city_id": city_ids,
            "country": np.array(COUNTRIES)[country],
            "population": population,
            "internet_use_pct": internet[country].round(2),
            "digital_skills_basic_pct": skills[country].round(2),
            "egov_index_2018": egov[country].round(4),
            "online_service_index_2018": online[country].round(4),
            "broadband_households_pct": broadband.round(1),
            "tourism_nights_per_capita": tourism.round(2),
        }
    )
    cities.loc[rng.random(n) < 0.1, "broadband_households_pct"] = np.nan
    no_mix = rng.random(n) < missing_age_mix
    for j, segment in enumerate(SEGMENTS):
        cities[f"share_{segment}"] = np.where(no_mix, np.nan, band_share[:, j].round(4))

    services = [f"alt-service-{j:02d}" for j in range(s_count)]
    base = rng.normal(np.log(5.0), 0.5, s_count)
    peak = rng.uniform(22, 65, s_count)
    width = rng.uniform(12, 30, s_count)
    g_internet = rng.normal(0.35, 0.12, s_count)
    age_slope = rng.uniform(0.0, 0.8, s_count)  # how much more internet use matters when older
    g_egov = rng.normal(0.2, 0.1, s_count)
    g_both = rng.normal(0.1, 0.05, s_count)
    g_broadband = rng.normal(0.1, 0.05, s_count)
    g_population = rng.normal(0.0, 0.08, s_count)
    ramp_mid = rng.uniform(1, 4, s_count)
    x_int = (internet[country] - 85) / 8
    x_egov = (egov[country] - 0.72) / 0.1
    x_bb = (broadband - 88) / 5
    x_pop = log_pop - np.log(50_000)

    # Log rate per (service, city, age), citizens per 1,000 people of that age per month.
    a = _AGES[None, None, :]
    log_rate = (
        base[:, None, None]
        - 0.5 * ((a - peak[:, None, None]) / width[:, None, None]) ** 2
        + g_internet[:, None, None]
        * x_int[None, :, None]
        * (1 + age_slope[:, None, None] * (a - 45) / 30)
        + (
            g_egov[:, None] * x_egov[None, :]
            + g_both[:, None] * x_int[None, :] * x_egov[None, :]
            + g_broadband[:, None] * x_bb[None, :]
            + g_population[:, None] * x_pop[None, :]
        )[:, :, None]
    )
    log_rate = np.where(a < 16, -np.inf, log_rate)
    national = rng.normal(0, country_noise, (s_count, k))[:, country]  # (S, N)
    luck = rng.normal(0, city_noise, n)[None, :] + rng.normal(0, noise, (s_count, n))
    knowable = np.exp(log_rate) * ages[None, :, :]  # (S, N, 100) per 1,000 inhabitants
    steady_context = knowable.sum(axis=2)  # (S, N)
    band_rate = _band_sum(knowable) / np.maximum(band_share[None, :, :], 1e-12)  # (S, N, 4)

    month = np.array(
        [int(p[5:]) for p in pd.period_range(first_period, periods=n_periods, freq="M").astype(str)]
    )
    season = 1 + 0.12 * np.cos(2 * np.pi * (month - 1) / 12)
    full_ramp = 1 / (1 + np.exp(-(np.arange(n_periods)[None, :] - ramp_mid[:, None]) / 1.5))
    seen = (full_ramp * season[None, :])[:, -_MONTHS_SEEN:].mean(axis=1)  # (S,)
    truth_context = steady_context * seen[:, None]
    without_luck = truth_context * np.exp(national)
    truth_uptake = without_luck * np.exp(luck)

    piloted = np.zeros((s_count, n), dtype=bool)
    pick = np.exp(0.4 * (log_pop - log_pop.mean()) + 0.5 * x_int)
    for j in range(s_count):
        count = int(rng.integers(pilots[0], pilots[1] + 1))
        piloted[j, rng.choice(n, min(count, n), replace=False, p=pick / pick.sum())] = True
    truth = truth_table(
        services,
        city_ids,
        uptake=truth_uptake,
        piloted=piloted,
        without_luck=without_luck,
        without_luck_or_country=truth_context,
    )

    pilot_s, pilot_c = np.nonzero(piloted)
    start = rng.integers(0, 5, pilot_s.size)
    p_idx, t_idx = np.nonzero(np.arange(n_periods)[None, :] >= start[:, None])
    reported = rng.random(p_idx.size) > 0.03  # a node that was down sends nothing that month
    p_idx, t_idx = p_idx[reported], t_idx[reported]
    srv, cty = pilot_s[p_idx], pilot_c[p_idx]
    m = p_idx.size
    ramp = 1 / (1 + np.exp(-((t_idx - start[p_idx]) - ramp_mid[srv]) / 1.5))
    shock = rng.gamma(dispersion, 1 / dispersion, m)
    factor = np.exp(national[srv, cty] + luck[srv, cty]) * ramp * season[t_idx] * shock
    lam = population[cty, None] * band_share[cty] * band_rate[srv, cty] * factor[:, None] / 1000
    unknown_share = rng.uniform(0.01, 0.12, n)[cty]
    citizens_seg = rng.poisson((1 - unknown_share)[:, None] * lam).astype(float)
    unknown = rng.poisson(unknown_share * lam.sum(axis=1)).astype(float)
    citizens_seg = np.column_stack([citizens_seg, unknown])  # OBSERVED_SEGMENTS order
    citizens = citizens_seg.sum(axis=1)
    submitted_seg = citizens_seg + rng.poisson(0.35 * citizens_seg)
    submitted = submitted_seg.sum(axis=1)

    old = band_share[cty, 2:].sum(axis=1) - band_share[:, 2:].sum(axis=1).mean()
    channel_offset = rng.normal(0, 0.4, s_count)
    p_digital = 1 / (1 + np.exp(-(0.3 + 0.9 * x_int[cty] + channel_offset[srv] - 4 * old)))
    digital_split = rng.dirichlet([4, 3, 1, 1], s_count)  # web, app, sms, email per service
    probs = np.zeros((m, len(CHANNELS)))
    d_j = a_j = 0
    for j, channel in enumerate(CHANNELS):
        family = CHANNEL_FAMILY[Channel(channel)]
        if family is ChannelFamily.DIGITAL:
            probs[:, j] = p_digital * digital_split[srv, d_j]
            d_j += 1
        elif family is ChannelFamily.ASSISTED:
            probs[:, j] = (1 - p_digital) * (0.6, 0.4)[a_j]
            a_j += 1
    probs /= probs.sum(axis=1, keepdims=True)
    submitted_ch = rng.multinomial(submitted.astype(np.int64), probs).astype(float)
    completion = rng.uniform(0.7, 0.98, s_count)
    completed_ch = rng.binomial(submitted_ch.astype(np.int64), completion[srv, None]).astype(float)
    completed = completed_ch.sum(axis=1)
    within_sla = rng.binomial(completed.astype(np.int64), rng.uniform(0.6, 0.95, s_count)[srv])
    acknowledged = rng.binomial(submitted.astype(np.int64), 0.97).astype(float)
    sat_count = rng.binomial(completed.astype(np.int64), 0.2)
    sat_probs = rng.dirichlet([1, 1, 2, 4, 3], s_count)[srv]
    sat_sum = np.array(
        [
            (rng.multinomial(c, p) * np.arange(1, 6)).sum()
            for c, p in zip(sat_count, sat_probs, strict=True)
        ],
        dtype=float,
    )

    totals = np.column_stack(
        [citizens, submitted, acknowledged, completed, within_sla, sat_sum, sat_count]
    ).astype(float)
    complete_hours = rng.uniform(12, 200, s_count)[srv]
    cells = published_cells(
        k=suppress_below,
        citizens_seg=citizens_seg,
        submitted_seg=submitted_seg,
        submitted_ch=submitted_ch,
        completed_ch=completed_ch,
        totals=totals,
        histograms={
            "time_to_complete": _duration_histogram(rng, completed, 1.4, complete_hours),
            "time_to_acknowledge": _duration_histogram(rng, acknowledged, 0.8, np.full(m, 5.0)),
        },
    )
    observations = observations_table(
        cells,
        city=cty,
        service=srv,
        period=t_idx,
        city_ids=city_ids,
        services=services,
        periods=[str(p) for p in pd.period_range(first_period, periods=n_periods, freq="M")],
    )
    services_table = pd.DataFrame(
        {
            "service": services,
            "log_base": base,
            "peak_age": peak,
            "age_width": width,
            "internet_effect": g_internet,
            "internet_effect_age_slope": age_slope,
            "egov_effect": g_egov,
            "internet_egov_interaction": g_both,
            "broadband_effect": g_broadband,
            "population_effect": g_population,
            "pilots": piloted.sum(axis=1),
        }
    )
    return World(cities=cities, observations=observations, truth=truth, services=services_table)
