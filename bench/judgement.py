"""Benchmark the replication judgement's quality over many generated worlds with known truth.

Each seed generates a world (``evaluation.synthetic`` by default, ``evaluation.synthetic_alt``
with ``--world alt``), writes its ``cities.csv`` and ``observations.csv``, runs ``carmen
evaluate`` on them with its defaults and the same seed, and reads back the files it wrote:

- the held-out back-test (``backtest_cities.csv``, each pilot city left out in turn): the mean
  per-service Spearman of the judgement's predictions against the held-out cities' observed
  uptake;
- its knowable ceiling, measured on the same cities: the Spearman of the truth less each city's
  own unobservable luck (``uptake_without_luck`` of the world's truth) against the same observed
  uptake: no judgement working from the tables can expect to rank better;
- the baseline measured in the same run: the nearest pilot city on context;
- the 90% bands' coverage of the held-out truths and their mean width relative to the
  prediction;
- the same figures for every city that did not pilot a service (``viability.csv``) against the
  world's hidden truth, with a nearest-pilot baseline computed here;
- the verdicts of ``viability.csv``: the share of the most common one.

Then each criterion, pass or fail: Spearman at least 0.95 x the ceiling and at least 0.2 above
the nearest pilot city, coverage between 85% and 95%, and no verdict for more than 90% of the
judgements. The same seeds give the same output.

Run alone with ``python -m bench.judgement`` (``--seeds N``, ``--world alt``, ``--small``).
"""

import contextlib
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bench import _alone
from carmen.cli import main as carmen
from evaluation.synthetic import World, generate_world
from evaluation.synthetic_alt import generate_alt_world

WORLDS = {
    "project": (generate_world, "evaluation.synthetic, 60 cities x 6 services, 24 pilots each"),
    "alt": (
        generate_alt_world,
        "evaluation.synthetic_alt, 80 cities x 8 services, 6-14 pilots each",
    ),
}
# The --small worlds, for a quick check: fewer cities and services, the same generators.
SMALL = {
    "project": ({"n_cities": 30, "n_services": 3}, "30 cities x 3 services, 12 pilots each"),
    "alt": ({"n_cities": 40, "n_services": 3}, "40 cities x 3 services, 6-14 pilots each"),
}
RATIO_MIN = 0.95
ABOVE_NEAREST_MIN = 0.2
COVERAGE_RANGE = (0.85, 0.95)
TOP_VERDICT_MAX = 0.9
COLLAPSED = 0.6  # a service ranked below this has a ranking a coordinator cannot lean on
# Columns of the back-test and viability files the benchmark reads.
BACKTEST_COLUMNS = ("service", "city_id", "truth", "predicted", "low", "high", "nearest")
VIABILITY_COLUMNS = ("service", "city_id", "expected_uptake", "low", "high", "verdict")


@dataclass(frozen=True)
class Scores:
    """One set of held-out cities scored: Spearman means over services, band figures."""

    spearman: float
    ceiling: float
    ceiling_country: float
    nearest: float
    coverage: float
    width: float
    widths: np.ndarray  # each held-out city's band width / prediction
    per_service: np.ndarray  # the judgement's Spearman of each service ranked
    cities: int


@dataclass(frozen=True)
class SeedResult:
    """Everything one seed's world and evaluation gave."""

    seed: int
    backtest: Scores
    transfer: Scores
    verdicts: pd.Series  # count of each verdict
    level: float


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman of the finite pairs; NaN with fewer than 3 of them or a constant side."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(stats.spearmanr(a[ok], b[ok]).statistic)


def evaluate_with_cli(world: World, seed: int, folder: Path) -> dict:
    """Write the world's tables, run `carmen evaluate` on them and read back what it wrote."""
    cities, observations, out = folder / "cities.csv", folder / "observations.csv", folder / "out"
    world.cities.to_csv(cities, index=False)
    world.observations.to_csv(observations, index=False)
    args = ["evaluate", "--cities", cities, "--observations", observations, "--out", out]
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            carmen.main([*map(str, args), "--seed", str(seed)], standalone_mode=False)
    except Exception as exc:  # say what carmen evaluate said, not only that it failed
        raise RuntimeError(f"carmen evaluate failed on seed {seed}: {said.getvalue()}") from exc
    tables = {name: pd.read_csv(out / f"{name}.csv") for name in ("backtest_cities", "viability")}
    tables["kpis"] = pd.read_csv(
        out / "kpis.csv", usecols=["service", "city_id", "period", "uptake"]
    )
    for name, columns in (("backtest_cities", BACKTEST_COLUMNS), ("viability", VIABILITY_COLUMNS)):
        missing = [c for c in columns if c not in tables[name].columns]
        if missing:
            raise RuntimeError(f"{name}.csv has no column {', '.join(missing)}")
    tables["report"] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return tables


def score(frame: pd.DataFrame, predicted: str, truth: str, nearest: str) -> Scores:
    """Per-service Spearman means and pooled band figures of one set of held-out cities.

    A service counts where the ceiling can rank its held-out cities (at least three); there, a
    judgement or baseline that ranks nothing (a constant) scores 0.
    """
    rows = []
    for _, group in frame.groupby("service", sort=True):
        t = group[truth].to_numpy(dtype=float)
        rows.append(
            (
                spearman(group[predicted].to_numpy(dtype=float), t),
                spearman(group["uptake_without_luck"].to_numpy(dtype=float), t),
                spearman(group["uptake_without_luck_or_country"].to_numpy(dtype=float), t),
                spearman(group[nearest].to_numpy(dtype=float), t),
            )
        )
    table = np.array(rows, dtype=float).reshape(-1, 4)
    # Services with too few held-out cities to rank are left out; a service the judgement ranks
    # with a constant (NaN) counts as 0, not as absent, so that it cannot flatter the mean.
    table = table[np.isfinite(table[:, 1])]
    table[:, [0, 3]] = np.nan_to_num(table[:, [0, 3]], nan=0.0)
    means = table.mean(axis=0) if len(table) else np.full(4, np.nan)
    t = frame[truth].to_numpy(dtype=float)
    inside = (frame["low"].to_numpy() <= t) & (t <= frame["high"].to_numpy())
    point = frame[predicted].to_numpy(dtype=float)
    width = (frame["high"] - frame["low"]).to_numpy(dtype=float) / np.where(
        point > 0, point, np.nan
    )
    return Scores(
        spearman=float(means[0]),
        ceiling=float(means[1]),
        ceiling_country=float(means[2]),
        nearest=float(means[3]),
        coverage=float(inside.mean()) if len(frame) else float("nan"),
        width=float(np.nanmean(width)) if len(frame) else float("nan"),
        widths=width,
        per_service=table[:, 0],
        cities=len(frame),
    )


def nearest_pilot(world: World, kpis: pd.DataFrame, targets: pd.DataFrame) -> np.ndarray:
    """Each target's uptake as that of the service's nearest pilot city on standardised context."""
    cities = world.cities.set_index("city_id")
    numeric = cities.select_dtypes("number").drop(columns=["population"])
    features = numeric.loc[:, [c for c in numeric.columns if not c.startswith("share_")]]
    features = features.assign(log_population=np.log(cities["population"]))
    z = ((features - features.mean()) / features.std(ddof=0).replace(0, 1)).fillna(0.0)
    pilots = kpis[kpis["period"] == "pilot"].dropna(subset=["uptake"])
    out = np.full(len(targets), np.nan)
    for service, group in targets.groupby("service", sort=True):
        own = pilots[pilots["service"] == service]
        if own.empty:
            continue
        here = z.loc[group["city_id"]].to_numpy()
        there = z.loc[own["city_id"]].to_numpy()
        distance = ((here[:, None, :] - there[None, :, :]) ** 2).sum(axis=2)
        out[targets.index.get_indexer(group.index)] = own["uptake"].to_numpy()[distance.argmin(1)]
    return out


def score_seed(world_name: str, seed: int, *, small: bool = False) -> SeedResult:
    """Generate one world, evaluate it as `carmen evaluate` does and score the judgement."""
    generate, _ = WORLDS[world_name]
    world = generate(seed=seed, **(SMALL[world_name][0] if small else {}))
    with tempfile.TemporaryDirectory(prefix="carmen-judgement-") as folder:
        tables = evaluate_with_cli(world, seed, Path(folder))
    truth = world.truth.astype({"city_id": str, "service": str})
    held = tables["backtest_cities"].astype({"city_id": str, "service": str})
    held = held.merge(truth, on=["service", "city_id"], how="left", validate="one_to_one")
    viability = tables["viability"].astype({"city_id": str, "service": str})
    judged = viability.merge(
        truth.rename(columns={"uptake": "true_uptake"}),
        on=["service", "city_id"],
        how="left",
        validate="one_to_one",
    ).reset_index(drop=True)
    judged["nearest"] = nearest_pilot(world, tables["kpis"].astype({"city_id": str}), judged)
    config = tables["report"].get("config") or {}
    return SeedResult(
        seed=seed,
        backtest=score(held, "predicted", "truth", "nearest"),
        transfer=score(judged, "expected_uptake", "true_uptake", "nearest"),
        verdicts=viability["verdict"].value_counts(),
        level=float(config.get("level", 0.9)),
    )


def _line(s: Scores, level: float) -> str:
    return (
        f"Spearman {s.spearman:.3f}  ceiling {s.ceiling:.3f}  ratio {s.spearman / s.ceiling:.3f}"
        f"  nearest {s.nearest:.3f}  coverage({level:.0%}) {s.coverage:.3f}  width {s.width:.3f}"
    )


def _pooled(results: list[SeedResult], part: str) -> dict[str, float]:
    """Means over seeds (Spearman) and over every held-out city (bands)."""
    scores = [getattr(r, part) for r in results]
    cities = np.array([s.cities for s in scores], dtype=float)

    def mean(name: str) -> float:
        return float(np.nanmean([getattr(s, name) for s in scores]))

    def weighted(name: str) -> float:
        values = np.array([getattr(s, name) for s in scores], dtype=float)
        ok = np.isfinite(values)
        return float((values[ok] * cities[ok]).sum() / cities[ok].sum()) if ok.any() else np.nan

    out = {name: mean(name) for name in ("spearman", "ceiling", "ceiling_country", "nearest")}
    spread = [s.spearman for s in scores if np.isfinite(s.spearman)]
    out["spearman_sd"] = float(np.std(spread, ddof=1)) if len(spread) > 1 else np.nan
    out["coverage"] = weighted("coverage")
    widths = np.concatenate([s.widths for s in scores])
    out["width"] = float(np.nanmean(widths)) if np.isfinite(widths).any() else np.nan
    out["width_median"] = float(np.nanmedian(widths)) if np.isfinite(widths).any() else np.nan
    out["cities"] = float(cities.sum())
    ranked = np.concatenate([s.per_service for s in scores])
    out["collapsed"] = float((ranked < COLLAPSED).mean()) if ranked.size else np.nan
    return out


def _checks(figures: dict[str, float], top_share: float) -> list[tuple[str, str]]:
    ratio = figures["spearman"] / figures["ceiling"]
    above = figures["spearman"] - figures["nearest"]
    low, high = COVERAGE_RANGE
    checks = [
        (f"Spearman / ceiling >= {RATIO_MIN}", ratio >= RATIO_MIN, f"{ratio:.3f}"),
        (
            f"Spearman - nearest pilot city >= {ABOVE_NEAREST_MIN}",
            above >= ABOVE_NEAREST_MIN,
            f"{above:.3f}",
        ),
        (
            f"band coverage within {low:.0%}-{high:.0%}",
            low <= figures["coverage"] <= high,
            f"{figures['coverage']:.3f}",
        ),
        (
            f"most common verdict <= {TOP_VERDICT_MAX:.0%}",
            top_share <= TOP_VERDICT_MAX,
            f"{top_share:.3f}",
        ),
    ]
    return [(name, f"{'pass' if ok else 'FAIL'} {shown}".strip()) for name, ok, shown in checks]


def run(
    seeds: int = 20, world: str = "project", first_seed: int = 0, small: bool = False
) -> list[tuple[str, float | str]]:
    """Score the judgement over ``seeds`` worlds of one generator, from seed ``first_seed``."""
    if world not in WORLDS:
        raise ValueError(f"unknown world {world!r}; worlds: {', '.join(WORLDS)}")
    if seeds < 1:
        raise ValueError("seeds must be at least 1")
    chosen = range(first_seed, first_seed + seeds)
    results = [score_seed(world, seed, small=small) for seed in chosen]
    level = results[0].level
    described = WORLDS[world][1]
    if small:
        described = described.split(",")[0] + ", " + SMALL[world][1]
    lines: list[tuple[str, float | str]] = [
        ("world", described),
        ("seeds (world and evaluation)", f"{chosen.start}-{chosen.stop - 1}"),
    ]
    for r in results:
        top = r.verdicts.sort_index().idxmax() if len(r.verdicts) else "-"
        share = r.verdicts.max() / r.verdicts.sum() if len(r.verdicts) else float("nan")
        lines.append((f"seed {r.seed} back-test", _line(r.backtest, level)))
        lines.append(
            (
                f"seed {r.seed} not piloted",
                f"{_line(r.transfer, level)}  top verdict {top} {share:.3f}",
            )
        )
    verdicts = pd.concat([r.verdicts for r in results]).groupby(level=0).sum().sort_index()
    total = float(verdicts.sum())
    top_verdict = verdicts.idxmax() if total else "-"
    top_share = float(verdicts.max() / total) if total else float("nan")
    for part, title in (("backtest", "back-test"), ("transfer", "not piloted")):
        f = _pooled(results, part)
        lines += [
            (f"{title}: held-out cities, all seeds", f["cities"]),
            (f"{title}: Spearman, judgement (mean of seeds)", f["spearman"]),
            (f"{title}: Spearman, standard deviation across seeds", f["spearman_sd"]),
            (f"{title}: Spearman, knowable ceiling (truth less luck)", f["ceiling"]),
            (f"{title}: Spearman, ceiling if country effects were luck too", f["ceiling_country"]),
            (f"{title}: Spearman, nearest pilot city (baseline)", f["nearest"]),
            (f"{title}: Spearman / ceiling", f["spearman"] / f["ceiling"]),
            (f"{title}: Spearman - nearest pilot city", f["spearman"] - f["nearest"]),
            (f"{title}: share of services ranked below {COLLAPSED}", f["collapsed"]),
            (f"{title}: {level:.0%} band coverage", f["coverage"]),
            (f"{title}: {level:.0%} band mean width / prediction", f["width"]),
            (f"{title}: {level:.0%} band median width / prediction", f["width_median"]),
        ]
        if part == "backtest":
            checks = _checks(f, top_share)
    for verdict, count in verdicts.items():
        lines.append((f"verdicts: share '{verdict}'", float(count) / total))
    lines.append((f"verdicts: most common ('{top_verdict}')", top_share))
    lines += [(f"check: {name}", shown) for name, shown in checks]
    passed = sum(shown.startswith("pass") for _, shown in checks)
    lines.append(("checks passed (held-out back-test)", f"{passed} of {len(checks)}"))
    return lines


if __name__ == "__main__":
    _alone.run_alone(
        run,
        __doc__,
        "bench.judgement",
        small="smaller worlds (30-40 cities x 3 services), for a quick check",
        options={
            "--seeds": {
                "type": int,
                "default": 20,
                "help": "how many worlds, one seed each (default: 20)",
            },
            "--world": {
                "choices": sorted(WORLDS),
                "default": "project",
                "help": "the generator: project (evaluation.synthetic, default) or alt "
                "(evaluation.synthetic_alt, built differently)",
            },
            "--first-seed": {
                "type": int,
                "default": 0,
                "help": "the first seed (default: 0); the seeds follow it",
            },
        },
    )
