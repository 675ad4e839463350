"""bench/judgement.py: its figures on two small worlds, the same output for the same seeds."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench import _alone, judgement

CHECKOUT = Path(__file__).resolve().parents[2]
SPEARMAN_FIGURES = (
    "Spearman, judgement (mean of seeds)",
    "Spearman, knowable ceiling (truth less luck)",
    "Spearman, nearest pilot city (baseline)",
)


@pytest.fixture(scope="module")
def printed() -> str:
    """What `python -m bench.judgement --seeds 2 --small` prints."""
    shown = subprocess.run(
        [sys.executable, "-m", "bench.judgement", "--seeds", "2", "--small"],
        capture_output=True,
        text=True,
        cwd=CHECKOUT,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


@pytest.fixture(scope="module")
def small_run() -> dict[str, float | str]:
    """The same two small worlds, scored in this process."""
    return dict(judgement.run(seeds=2, small=True))


def test_two_small_seeds_print_every_figure_each_seed_and_each_check(printed):
    out = printed
    for seed in (0, 1):
        assert re.search(rf"^seed {seed} back-test +Spearman -?\d\.\d{{3}}  ceiling", out, re.M)
        assert re.search(rf"^seed {seed} not piloted .* top verdict \w", out, re.M)
    assert "seed 2 " not in out
    for part in ("back-test", "not piloted"):
        for figure in (*SPEARMAN_FIGURES, "Spearman / ceiling", "90% band coverage"):
            assert re.search(rf"^{part}: {re.escape(figure)} +-?[\d.,]+$", out, re.M), figure
    checks = re.findall(r"^check: .+ (pass|FAIL) [\d.-]+$", out, re.M)
    assert len(checks) == 4
    assert re.search(r"^checks passed \(held-out back-test\) +\d of 4$", out, re.M)


def test_figures_are_in_range_and_the_ceiling_is_above_the_baseline(small_run):
    for part in ("back-test", "not piloted"):
        for figure in SPEARMAN_FIGURES:
            assert -1 <= small_run[f"{part}: {figure}"] <= 1
        # The truth less luck ranks cities better than copying the nearest pilot city.
        ceiling = small_run[f"{part}: Spearman, knowable ceiling (truth less luck)"]
        assert ceiling > small_run[f"{part}: Spearman, nearest pilot city (baseline)"]
        assert 0 <= small_run[f"{part}: 90% band coverage"] <= 1
        assert 0 <= small_run[f"{part}: share of services ranked below 0.6"] <= 1
    shares = [v for k, v in small_run.items() if k.startswith("verdicts: share")]
    assert sum(shares) == pytest.approx(1)
    assert small_run[next(k for k in small_run if k.startswith("verdicts: most common"))] == max(
        shares
    )


def test_the_same_seeds_give_the_same_output_and_other_seeds_another(printed, small_run):
    assert printed.splitlines() == [_alone.line(*figure) for figure in small_run.items()]
    alone = dict(judgement.run(seeds=1, small=True, first_seed=1))
    assert alone["seed 1 back-test"] == small_run["seed 1 back-test"]
    assert alone["seed 1 not piloted"] == small_run["seed 1 not piloted"]
    assert small_run["seed 0 back-test"] != small_run["seed 1 back-test"]


def test_the_alternate_world_is_scored_by_name():
    figures = dict(judgement.run(seeds=1, world="alt", small=True))
    assert figures["world"].startswith("evaluation.synthetic_alt")
    assert -1 <= figures["back-test: Spearman, judgement (mean of seeds)"] <= 1


def test_an_unknown_world_or_no_seed_is_refused():
    with pytest.raises(ValueError, match="unknown world 'europe'; worlds: project, alt"):
        judgement.run(world="europe")
    with pytest.raises(ValueError, match="seeds must be at least 1"):
        judgement.run(seeds=0)


def test_a_judgement_that_ranks_nothing_scores_zero_and_cannot_flatter_the_mean():
    truth = [1.0, 2.0, 3.0, 4.0]
    frame = pd.DataFrame(
        {
            "service": ["ranked"] * 4 + ["constant"] * 4 + ["too few"] * 2,
            "truth": [*truth, *truth, 1.0, 2.0],
            "predicted": [1.1, 2.2, 2.9, 4.5, 2.0, 2.0, 2.0, 2.0, 1.0, 2.0],
            "nearest": [4.0, 3.0, 2.0, 1.0, *truth, 1.0, 2.0],
            "low": 0.0,
            "high": [*([3.5] * 8), 5.0, 5.0],
        }
    )
    frame["uptake_without_luck"] = frame["truth"]
    frame["uptake_without_luck_or_country"] = frame["truth"]
    scored = judgement.score(frame, "predicted", "truth", "nearest")
    assert scored.spearman == pytest.approx(0.5)  # 1 and 0 for the two services it can rank
    assert scored.nearest == pytest.approx(0.0)  # -1 and 1
    assert scored.ceiling == pytest.approx(1.0)
    assert scored.coverage == pytest.approx(0.8)  # the two 4s of ten lie above the band
    assert scored.cities == 10
