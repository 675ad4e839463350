"""KPIs per service, city and period, and over each pilot, each with an uncertainty band.

The KPIs and their bands (``level`` is the band's coverage, 0.9 by default):

``uptake``
    Distinct citizens per 1,000 inhabitants per month. Per period: exact Poisson band on the
    count. Over the pilot: the mean of the last 6 observed periods, with a Student t band over
    those months (the Poisson band when only one month is known).
``digital_share``
    Share of submitted requests that came through a digital channel (web, app, SMS, e-mail) among
    the channel cells reported. Suppressed channel cells are missing, not zero: the requests they
    hold (the total submitted minus the reported cells) could be digital or not, so the band runs
    from the Wilson low bound with all of them assisted to the Wilson high bound with all of them
    digital. Requests the city's staff raised themselves (the internal ``staff`` channel) are
    no citizen's choice of channel: they are left out of the share, above and below the line.
``completion_rate``
    ``completed / submitted``; Wilson score band.
``sla_compliance``
    ``completed_within_sla / completed``; Wilson score band.
``satisfaction``
    ``satisfaction_sum / satisfaction_count`` on the 1-5 scale; normal band with the largest
    standard deviation a 1-5 score with that mean can have (Bhatia-Davis), so never too narrow.
``time_to_acknowledge_median_h``, ``time_to_acknowledge_p90_h``, ``time_to_complete_median_h``,
``time_to_complete_p90_h``
    Quantiles of the duration histograms, interpolated linearly inside a bucket (a quantile in
    the open last bucket reads as 720 h, i.e. "at least"); distribution-free band from the
    binomial ranks of the quantile. Suppressed buckets are left out.
``segment_reach``
    Uptake of the least-reached age band relative to the city's overall uptake (1: no band left
    behind). Suppressed segment cells are filled from the total (see ``impute_segments``). Over
    the pilot: the mean of the last 6 months with a t band; no band per period.

Over the pilot, the ratio KPIs add up the counts of every period before dividing.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from federation.protocol.vocabulary import (
    CHANNEL_FAMILY,
    DURATION_BUCKET_UPPER_HOURS,
    Channel,
    ChannelFamily,
    duration_bucket_names,
)

from .tables import CHANNELS, OBSERVED_SEGMENTS, SEGMENTS, SHARE_COLUMNS

TOTAL_MEASURES: tuple[str, ...] = (
    "citizens",
    "submitted",
    "completed",
    "completed_within_sla",
    "satisfaction_sum",
    "satisfaction_count",
)
HISTOGRAMS: tuple[str, ...] = ("time_to_acknowledge", "time_to_complete")
KPI_NAMES: tuple[str, ...] = (
    "uptake",
    "digital_share",
    "completion_rate",
    "sla_compliance",
    "satisfaction",
    "time_to_acknowledge_median_h",
    "time_to_acknowledge_p90_h",
    "time_to_complete_median_h",
    "time_to_complete_p90_h",
    "segment_reach",
)
PILOT = "pilot"
"""The ``period`` value of the KPI rows that summarise a whole pilot."""

_DIGITAL = np.array([CHANNEL_FAMILY[Channel(c)] is ChannelFamily.DIGITAL for c in CHANNELS])
_INTERNAL = np.array([CHANNEL_FAMILY[Channel(c)] is ChannelFamily.INTERNAL for c in CHANNELS])
_EDGES = np.array([0.0, *map(float, DURATION_BUCKET_UPPER_HOURS)])


@dataclass
class Cells:
    """The observations as matrices, one row per observed service × city × period.

    Attributes
    ----------
    keys : DataFrame
        ``service``, ``city_id``, ``period``, sorted, with ``city_index`` (row of the cities
        table) and ``pilot`` (index into ``pilots``).
    totals : dict of str to ndarray
        The ``segment=all, channel=all`` cells of each total measure (NaN where missing).
    histograms : dict of str to ndarray
        Each duration histogram as an (n, 10) matrix.
    segment_citizens : ndarray
        (n, 5) citizens per observed segment, in ``OBSERVED_SEGMENTS`` order.
    channel_submitted : ndarray
        (n, 7) submitted requests per channel, in ``CHANNELS`` order.
    pilots : DataFrame
        One row per piloted service × city: ``service``, ``city_id``, ``city_index``.
    """

    keys: pd.DataFrame
    totals: dict[str, np.ndarray]
    histograms: dict[str, np.ndarray]
    segment_citizens: np.ndarray
    channel_submitted: np.ndarray
    pilots: pd.DataFrame


def _codes(series: pd.Series, categories: list[str]) -> np.ndarray:
    """Codes of a categorical column against a fixed list of categories (-1 when absent)."""
    cat = series if isinstance(series.dtype, pd.CategoricalDtype) else series.astype("category")
    own = cat.cat.categories.astype(str)
    lookup = {c: i for i, c in enumerate(categories)}
    remap = np.array([lookup.get(c, -1) for c in own] + [-1], dtype=np.int64)
    return remap[cat.cat.codes.to_numpy()]  # code -1 (NaN) indexes the trailing -1


def build_cells(cities: pd.DataFrame, observations: pd.DataFrame) -> Cells:
    """Turn the long observations into per-period matrices.

    Parameters
    ----------
    cities : DataFrame
        The validated cities table.
    observations : DataFrame
        The validated observations table.

    Returns
    -------
    Cells
        The matrices, rows sorted by service, city and period.
    """
    obs = observations
    city_list = list(cities["city_id"].astype(str))
    services = sorted(map(str, obs["service"].astype("category").cat.categories))
    periods = sorted(map(str, obs["period"].astype("category").cat.categories))
    s_code = _codes(obs["service"], services)
    c_code = _codes(obs["city_id"], city_list)
    p_code = _codes(obs["period"], periods)
    used = (s_code >= 0) & (c_code >= 0) & (p_code >= 0)
    n_c, n_p = len(city_list), len(periods)
    key = (s_code * n_c + c_code) * n_p + p_code
    key = np.where(used, key, -1)
    unique, row = np.unique(key, return_inverse=True)
    if unique.size and unique[0] == -1:
        unique, row = unique[1:], row - 1
    period_idx = unique % n_p
    city_idx = (unique // n_p) % n_c
    service_idx = unique // (n_p * n_c)
    n = unique.size

    seg = _codes(obs["segment"], [*OBSERVED_SEGMENTS, "all"])
    ch = _codes(obs["channel"], [*CHANNELS, "all"])
    hist_names = [name for h in HISTOGRAMS for name in duration_bucket_names(h)]
    measures = [*TOTAL_MEASURES, *hist_names]
    meas = _codes(obs["measure"], measures)
    value = obs["value"].to_numpy(dtype=float)
    seg_all, ch_all = len(OBSERVED_SEGMENTS), len(CHANNELS)

    wide = np.full((n, len(measures)), np.nan)
    pick = used & (seg == seg_all) & (ch == ch_all) & (meas >= 0)
    wide[row[pick], meas[pick]] = value[pick]
    segment_citizens = np.full((n, len(OBSERVED_SEGMENTS)), np.nan)
    pick = used & (ch == ch_all) & (seg >= 0) & (seg < seg_all) & (meas == 0)
    segment_citizens[row[pick], seg[pick]] = value[pick]
    channel_submitted = np.full((n, len(CHANNELS)), np.nan)
    pick = used & (seg == seg_all) & (ch >= 0) & (ch < ch_all) & (meas == 1)
    channel_submitted[row[pick], ch[pick]] = value[pick]

    totals = {m: wide[:, i] for i, m in enumerate(TOTAL_MEASURES)}
    histograms = {}
    for h in HISTOGRAMS:
        columns = [measures.index(name) for name in duration_bucket_names(h)]
        histograms[h] = wide[:, columns]

    pilot_key = service_idx * n_c + city_idx
    pilot_unique, pilot_row = np.unique(pilot_key, return_inverse=True)
    pilots = pd.DataFrame(
        {
            "service": np.array(services, dtype=object)[pilot_unique // n_c],
            "city_id": np.array(city_list, dtype=object)[pilot_unique % n_c],
            "city_index": pilot_unique % n_c,
        }
    )
    keys = pd.DataFrame(
        {
            "service": np.array(services, dtype=object)[service_idx],
            "city_id": np.array(city_list, dtype=object)[city_idx],
            "period": np.array(periods, dtype=object)[period_idx],
            "city_index": city_idx,
            "pilot": pilot_row,
        }
    )
    return Cells(keys, totals, histograms, segment_citizens, channel_submitted, pilots)


def impute_segments(
    segment_citizens: np.ndarray, total: np.ndarray, segment_population: np.ndarray
) -> np.ndarray:
    """Citizens per age band with suppressed cells filled in and the unknown band spread.

    A suppressed cell is missing, not zero: what the total leaves after the reported cells is
    shared among the suppressed age bands in proportion to their population; then the counts are
    scaled so that they add up to the total (citizens of unknown age are spread like the known).

    Parameters
    ----------
    segment_citizens : ndarray
        (n, 5) reported citizens per segment (``OBSERVED_SEGMENTS`` order, NaN when suppressed).
    total : ndarray
        (n,) reported total citizens (NaN when suppressed).
    segment_population : ndarray
        (n, 4) inhabitants per age band.

    Returns
    -------
    ndarray
        (n, 4) citizens per age band; NaN where the total is unknown and a band was suppressed.
    """
    known = segment_citizens[:, : len(SEGMENTS)].copy()
    reported = np.nansum(segment_citizens, axis=1)
    remainder = np.clip(total - reported, 0, None)
    missing = np.isnan(known)
    weight = np.where(missing, segment_population, 0.0)
    weight_sum = weight.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        fill = remainder[:, None] * weight / weight_sum
        known = np.where(missing, fill, known)
        known_sum = known.sum(axis=1)
        scale = np.where(np.isfinite(total) & (known_sum > 0), total / known_sum, 1.0)
    return known * scale[:, None]


def _wilson(x: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, ...]:
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.minimum(x, n)
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        bad = ~(n > 0)
        return (
            np.where(bad, np.nan, p),
            np.where(bad, np.nan, centre - half),
            np.where(bad, np.nan, centre + half),
        )


def _hidden(reported: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Requests in suppressed channel cells: the total less the reported cells (0 if unknown)."""
    return np.where(np.isfinite(total), np.clip(total - reported, 0, None), 0.0)


def _digital_share(
    digital: np.ndarray, reported: np.ndarray, total: np.ndarray, z: float
) -> tuple[np.ndarray, ...]:
    """Digital share of the reported channels, the band stretched over the suppressed ones."""
    hidden = _hidden(reported, total)
    whole = reported + hidden
    share, _, _ = _wilson(digital, reported, z)
    _, low, _ = _wilson(digital, whole, z)
    _, _, high = _wilson(digital + hidden, whole, z)
    return share, low, high


def _poisson(count: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) band of a Poisson count."""
    with np.errstate(invalid="ignore"):
        low = np.where(count > 0, stats.chi2.ppf(alpha / 2, 2 * count) / 2, 0.0)
        high = stats.chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
    return np.where(np.isnan(count), np.nan, low), high


def _satisfaction(total: np.ndarray, count: np.ndarray, z: float) -> tuple[np.ndarray, ...]:
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        sd = np.sqrt(np.clip((5 - mean) * (mean - 1), 0, None))
        half = z * sd / np.sqrt(count)
        ok = count > 0
        mean = np.where(ok, mean, np.nan)
        return mean, np.clip(mean - half, 1, 5), np.clip(mean + half, 1, 5)


def _hist_quantile(hist: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """The duration at a rank of a bucketed histogram, linear inside the bucket."""
    counts = np.nan_to_num(hist)
    cum = np.cumsum(counts, axis=1)
    total = cum[:, -1]
    rank = np.clip(rank, 0, total)
    bucket = (cum < rank[:, None]).sum(axis=1).clip(0, counts.shape[1] - 1)
    rows = np.arange(counts.shape[0])
    before = np.where(bucket > 0, cum[rows, np.maximum(bucket - 1, 0)], 0.0)
    inside = counts[rows, bucket]
    last = len(_EDGES) - 1
    lo = _EDGES[np.minimum(bucket, last)]
    hi = _EDGES[np.minimum(bucket + 1, last)]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(inside > 0, (rank - before) / inside, 0.0)
    value = np.where(bucket >= last, _EDGES[-1], lo + frac * (hi - lo))
    return np.where(total > 0, value, np.nan)


def _quantile_band(hist: np.ndarray, q: float, z: float) -> tuple[np.ndarray, ...]:
    total = np.nansum(hist, axis=1)
    spread = z * np.sqrt(total * q * (1 - q))
    return (
        _hist_quantile(hist, total * q),
        _hist_quantile(hist, total * q - spread),
        _hist_quantile(hist, total * q + spread),
    )


def _t_band(values: np.ndarray, groups: np.ndarray, n_groups: int, level: float) -> tuple:
    """Mean of each group's values (NaN skipped) with a Student t band."""
    ok = ~np.isnan(values)
    count = np.bincount(groups[ok], minlength=n_groups).astype(float)
    total = np.bincount(groups[ok], weights=values[ok], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        dev = values - mean[groups]
        ss = np.bincount(groups[ok], weights=dev[ok] ** 2, minlength=n_groups)
        sd = np.sqrt(ss / (count - 1))
        t = stats.t.ppf(0.5 + level / 2, np.maximum(count - 1, 1))
        half = t * sd / np.sqrt(count)
    half = np.where(count >= 2, half, np.nan)
    return mean, mean - half, mean + half, count


def _segment_population(cities: pd.DataFrame, city_index: np.ndarray) -> np.ndarray | None:
    if not all(c in cities.columns for c in SHARE_COLUMNS):
        return None
    shares = cities[list(SHARE_COLUMNS)].to_numpy(dtype=float)[city_index]
    return shares * cities["population"].to_numpy(dtype=float)[city_index, None]


@dataclass
class KpiResult:
    """The KPI tables.

    Attributes
    ----------
    kpis : DataFrame
        One row per service × city × period (``YYYY-MM``, or ``pilot`` for the whole pilot):
        ``service``, ``city_id``, ``period``, then for each KPI ``<kpi>``, ``<kpi>_low`` and
        ``<kpi>_high`` (empty where it cannot be computed).
    pilots : DataFrame
        One row per piloted service × city: ``service``, ``city_id``, ``periods``,
        ``uptake`` (mean of the last 6 periods), ``uptake_low``, ``uptake_high`` and
        ``uptake_<segment>`` (each age band's citizens per 1,000 of that band per month, over the
        same months; NaN when unknown).
    """

    kpis: pd.DataFrame
    pilots: pd.DataFrame


def compute_kpis(
    cities: pd.DataFrame,
    cells: Cells,
    *,
    level: float = 0.9,
    pilot_window: int = 6,
) -> KpiResult:
    """Compute every KPI per service × city × period and over each pilot.

    Parameters
    ----------
    cities : DataFrame
        The validated cities table.
    cells : Cells
        From ``build_cells``.
    level : float
        Coverage of the bands.
    pilot_window : int
        How many of the last periods make the pilot's uptake.

    Returns
    -------
    KpiResult
        The long KPI table and the pilot summary used by the viability judgement.
    """
    z = float(stats.norm.ppf(0.5 + level / 2))
    alpha = 1 - level
    keys = cells.keys
    n = len(keys)
    city_index = keys["city_index"].to_numpy()
    population = cities["population"].to_numpy(dtype=float)[city_index]
    tot = cells.totals
    per_period: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    citizens = tot["citizens"]
    low, high = _poisson(citizens, alpha)
    per_1000 = 1000 / population
    uptake = citizens * per_1000
    per_period["uptake"] = (uptake, low * per_1000, high * per_1000)
    channel = cells.channel_submitted
    digital = np.nansum(np.where(_DIGITAL[None, :], channel, 0.0), axis=1)
    citizen_channels = channel[:, ~_INTERNAL]
    reported = np.nansum(citizen_channels, axis=1)
    reported = np.where(np.isnan(citizen_channels).all(axis=1), np.nan, reported)
    by_citizens = tot["submitted"] - np.nansum(channel[:, _INTERNAL], axis=1)
    per_period["digital_share"] = _digital_share(digital, reported, by_citizens, z)
    per_period["completion_rate"] = _wilson(tot["completed"], tot["submitted"], z)
    per_period["sla_compliance"] = _wilson(tot["completed_within_sla"], tot["completed"], z)
    per_period["satisfaction"] = _satisfaction(
        tot["satisfaction_sum"], tot["satisfaction_count"], z
    )
    for h in HISTOGRAMS:
        hist = cells.histograms[h]
        per_period[f"{h}_median_h"] = _quantile_band(hist, 0.5, z)
        per_period[f"{h}_p90_h"] = _quantile_band(hist, 0.9, z)

    seg_pop = _segment_population(cities, city_index)
    if seg_pop is not None:
        imputed = impute_segments(cells.segment_citizens, citizens, seg_pop)
        with np.errstate(invalid="ignore", divide="ignore"):
            seg_rate = np.where(seg_pop > 0, imputed / seg_pop * 1000, np.nan)
            usable = np.where((seg_pop > 0) & np.isfinite(seg_rate), seg_rate, np.inf)
            reach = usable.min(axis=1) / uptake
        reach = np.where(np.isfinite(reach), reach, np.nan)
    else:
        seg_rate = np.full((n, len(SEGMENTS)), np.nan)
        reach = np.full(n, np.nan)
    per_period["segment_reach"] = (reach, np.full(n, np.nan), np.full(n, np.nan))

    # Over the pilot: the last `pilot_window` observed periods of each service × city.
    pilot = keys["pilot"].to_numpy()
    n_pilots = len(cells.pilots)
    size = np.bincount(pilot, minlength=n_pilots)
    position = np.arange(n) - np.concatenate([[0], np.cumsum(size)[:-1]])[pilot]
    recent = position >= (size[pilot] - pilot_window)
    groups = np.where(recent, pilot, n_pilots)  # old periods go to a throwaway group
    up_mean, up_low, up_high, up_count = _t_band(
        np.where(recent, uptake, np.nan), groups, n_pilots + 1, level
    )
    one = up_count[:n_pilots] == 1
    if one.any():
        # One month known: its exact Poisson band stands in for the t band.
        last_row = np.full(n_pilots, -1)
        ok = recent & ~np.isnan(uptake)
        last_row[pilot[ok]] = np.flatnonzero(ok)
        rows = last_row[one]
        up_low[:n_pilots][one] = per_period["uptake"][1][rows]
        up_high[:n_pilots][one] = per_period["uptake"][2][rows]
    pilot_kpis: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {
        "uptake": (up_mean[:n_pilots], up_low[:n_pilots], up_high[:n_pilots])
    }

    def summed(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        ok = ~np.isnan(values) if mask is None else mask
        out = np.bincount(pilot[ok], weights=values[ok], minlength=n_pilots)
        has = np.bincount(pilot[ok], minlength=n_pilots) > 0
        return np.where(has, out, np.nan)

    both = ~np.isnan(digital) & ~np.isnan(reported)
    hidden = np.where(both, _hidden(reported, by_citizens), np.nan)
    pilot_kpis["digital_share"] = _digital_share(
        summed(digital, both), summed(reported, both), summed(reported + hidden, both), z
    )
    for name, num, den in (
        ("completion_rate", "completed", "submitted"),
        ("sla_compliance", "completed_within_sla", "completed"),
    ):
        both = ~np.isnan(tot[num]) & ~np.isnan(tot[den])
        pilot_kpis[name] = _wilson(summed(tot[num], both), summed(tot[den], both), z)
    both = ~np.isnan(tot["satisfaction_sum"]) & ~np.isnan(tot["satisfaction_count"])
    pilot_kpis["satisfaction"] = _satisfaction(
        summed(tot["satisfaction_sum"], both), summed(tot["satisfaction_count"], both), z
    )
    for h in HISTOGRAMS:
        hist = cells.histograms[h]
        pilot_hist = np.column_stack(
            [
                np.bincount(pilot, weights=np.nan_to_num(hist[:, j]), minlength=n_pilots)
                for j in range(hist.shape[1])
            ]
        )
        pilot_kpis[f"{h}_median_h"] = _quantile_band(pilot_hist, 0.5, z)
        pilot_kpis[f"{h}_p90_h"] = _quantile_band(pilot_hist, 0.9, z)
    reach_mean, reach_low, reach_high, _ = _t_band(
        np.where(recent, reach, np.nan), groups, n_pilots + 1, level
    )
    pilot_kpis["segment_reach"] = (
        reach_mean[:n_pilots],
        reach_low[:n_pilots],
        reach_high[:n_pilots],
    )

    def table(base: pd.DataFrame, figures: dict) -> pd.DataFrame:
        columns = {}
        for name in KPI_NAMES:
            value, lo, hi = figures[name]
            columns[name], columns[f"{name}_low"], columns[f"{name}_high"] = value, lo, hi
        return pd.concat([base.reset_index(drop=True), pd.DataFrame(columns)], axis=1)

    # Wide: one row per service × city × period (and one per pilot), three columns per KPI.
    kpis = pd.concat(
        [
            table(keys[["service", "city_id", "period"]], per_period),
            table(cells.pilots[["service", "city_id"]].assign(period=PILOT), pilot_kpis),
        ],
        ignore_index=True,
    )

    pilots = cells.pilots[["service", "city_id", "city_index"]].copy()
    pilots["periods"] = size
    pilots["uptake"], pilots["uptake_low"], pilots["uptake_high"] = pilot_kpis["uptake"]
    for j, segment in enumerate(SEGMENTS):
        mean, *_ = _t_band(np.where(recent, seg_rate[:, j], np.nan), groups, n_pilots + 1, level)
        pilots[f"uptake_{segment}"] = mean[:n_pilots]
    return KpiResult(kpis=kpis, pilots=pilots)
