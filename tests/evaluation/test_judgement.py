"""The replication-viability judgement, checked against a generated world's hidden truth."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation import EvaluationConfig, run_evaluation
from evaluation.synthetic import generate_world

CONTEXT = [
    "internet_use_pct",
    "internet_use_55_74_pct",
    "digital_skills_basic_pct",
    "egov_index_2018",
    "online_service_index_2018",
]


def pilot_uptake(result, service):
    kpis = result.kpis
    rows = kpis[(kpis["service"] == service) & (kpis["period"] == "pilot")]
    return rows.set_index("city_id")["uptake"].astype(float)


def test_every_city_that_did_not_pilot_a_service_is_judged(world, result, held_out):
    not_piloted = world.truth[~world.truth["piloted"]]
    assert len(held_out) == len(not_piloted) == len(result.viability)
    assert set(result.viability["verdict"]) <= {"replicate", "pilot first", "not viable"}
    assert result.viability[["expected_uptake", "low", "high", "score"]].notna().all().all()


def test_expected_uptake_ranks_held_out_cities_with_spearman_at_least_0_7(held_out):
    per_service = [
        stats.spearmanr(g["expected_uptake"], g["truth"]).statistic
        for _, g in held_out.groupby("service")
    ]
    assert np.mean(per_service) >= 0.7


def test_expected_uptake_beats_the_global_mean_and_the_nearest_pilot_city(world, result, held_out):
    context = world.cities.set_index("city_id")[CONTEXT]
    z = (context - context.mean()) / context.std()
    ours, global_mean, nearest, ours_rank, nearest_rank = [], [], [], [], []
    for service, group in held_out.groupby("service"):
        pilots = pilot_uptake(result, service)
        distance = (
            (z.loc[group["city_id"]].to_numpy()[:, None, :] - z.loc[pilots.index].to_numpy()) ** 2
        ).sum(axis=2)
        near = pilots.to_numpy()[distance.argmin(axis=1)]
        truth = group["truth"].to_numpy()
        ours.append(np.abs(group["expected_uptake"] - truth).mean())
        global_mean.append(np.abs(pilots.mean() - truth).mean())
        nearest.append(np.abs(near - truth).mean())
        ours_rank.append(stats.spearmanr(group["expected_uptake"], truth).statistic)
        nearest_rank.append(stats.spearmanr(near, truth).statistic)
    assert np.mean(ours) < np.mean(global_mean)
    assert np.mean(ours) < np.mean(nearest)
    assert np.mean(ours_rank) > np.mean(nearest_rank)


def test_bands_cover_the_truth_at_least_80_percent_of_the_time(held_out):
    covered = (held_out["low"] <= held_out["truth"]) & (held_out["truth"] <= held_out["high"])
    assert covered.mean() >= 0.8
    assert (held_out["low"] <= held_out["expected_uptake"]).mean() > 0.95


def test_same_seed_gives_the_same_output_and_another_seed_other_bands(world, result):
    again = run_evaluation(world.cities, world.observations, seed=0)
    for name in ("kpis", "clusters", "viability", "backtest", "backtest_cities"):
        pd.testing.assert_frame_equal(getattr(result, name), getattr(again, name))
    assert json.dumps(result.report, sort_keys=True) == json.dumps(again.report, sort_keys=True)
    other = run_evaluation(world.cities, world.observations, seed=1)
    assert not np.allclose(other.viability["low"], result.viability["low"])


def test_backtest_reports_spearman_mae_and_coverage_per_service_and_overall(world, result):
    table = result.backtest.set_index("service")
    services = sorted(world.truth["service"].unique())
    assert list(table.index) == [*services, "overall"]
    columns = ["spearman", "spearman_nearest", "mae", "mae_global_mean", "mae_nearest", "coverage"]
    assert table[columns].notna().all().all()
    overall = table.loc["overall"]
    assert overall["cities"] == table.loc[services, "cities"].sum()
    assert overall["spearman"] == pytest.approx(table.loc[services, "spearman"].mean())
    # On this world the model earns the trust it reports.
    assert overall["beats_baselines"]
    assert overall["coverage"] >= 0.8
    detail = result.backtest_cities
    assert len(detail) == overall["cities"]
    trust = result.report["backtest"]["trust"]
    assert "Spearman" in trust and "nearest pilot city" in trust
    # It quotes the criteria docs/evaluation.md states, not older ones.
    assert "85%-95%" in trust and "+0.2" in trust and ">= 0.7" not in trust


def test_backtest_truth_is_the_held_out_pilots_own_uptake(result):
    detail = result.backtest_cities
    for service, group in detail.groupby("service"):
        own = pilot_uptake(result, service).loc[group["city_id"]].to_numpy()
        np.testing.assert_allclose(group["truth"].to_numpy(), own)


def test_verdicts_follow_the_score_and_the_configured_thresholds(world, result):
    v = result.viability
    inside = ~v["extrapolated"].astype(bool)
    assert (v.loc[inside & (v["score"] >= 0.8), "verdict"] == "replicate").all()
    middle = inside & (v["score"] >= 0.4) & (v["score"] < 0.8)
    assert (v.loc[middle, "verdict"] == "pilot first").all()
    assert (v.loc[inside & (v["score"] < 0.4), "verdict"] == "not viable").all()
    assert (v.loc[~inside, "verdict"] == "pilot first").all()
    strict = EvaluationConfig(
        target_uptake_ratio=1.0, threshold_replicate=0.95, threshold_pilot=0.5
    )
    judged = run_evaluation(world.cities, world.observations, config=strict, seed=0).viability
    assert (judged["verdict"] == "replicate").sum() < (v["verdict"] == "replicate").sum()
    inside = ~judged["extrapolated"].astype(bool)
    assert (inside & (judged["score"] >= 0.95)).sum() == (judged["verdict"] == "replicate").sum()


def test_a_city_expected_further_above_its_target_scores_higher(result):
    for _, group in result.viability.groupby("service"):
        margin = np.log(group["expected_uptake"] / group["target_uptake"])
        assert stats.spearmanr(margin, group["score"]).statistic > 0.9


def test_drivers_name_the_pilot_cities_the_segments_and_the_context(world, result):
    row = result.viability.iloc[0]
    drivers = json.loads(row["drivers"])
    pilots = set(
        world.truth[world.truth["piloted"] & (world.truth["service"] == row["service"])]["city_id"]
    )
    assert drivers["model"] == "age bands"
    assert 1 <= len(drivers["pilots"]) <= 3 and {p["city_id"] for p in drivers["pilots"]} <= pilots
    assert {s["segment"] for s in drivers["segments"]} == {"16-24", "25-54", "55-74", "75+"}
    total = sum(s["contribution"] for s in drivers["segments"])
    country = 1 + drivers.get("country_effect_pct", 0.0) / 100
    assert total * country == pytest.approx(row["expected_uptake"], rel=0.1)
    assert all(c["figure"] in [*CONTEXT, "log_population"] for c in drivers["context"])


def test_a_city_without_age_shares_is_judged_from_its_context_alone(world):
    cities = world.cities.copy()
    shares = [c for c in cities.columns if c.startswith("share_")]
    lost = cities["city_id"].iloc[-1]
    cities.loc[cities.index[-1], shares] = np.nan
    judged = run_evaluation(cities, world.observations, seed=0).viability
    rows = judged[judged["city_id"] == lost]
    assert len(rows) > 0 and rows["expected_uptake"].notna().all()
    assert {json.loads(d)["model"] for d in rows["drivers"]} == {"context alone"}


def test_a_service_with_too_few_pilots_is_not_judged_but_sent_to_pilot_first():
    small = generate_world(n_cities=20, n_services=2, pilot_fraction=0.1, seed=3)
    result = run_evaluation(small.cities, small.observations, seed=0)
    assert (result.viability["verdict"] == "pilot first").all()
    assert result.viability["low"].isna().all()
    assert "pilot" in json.loads(result.viability["drivers"].iloc[0])["note"]
    assert result.backtest.empty
    assert any("pilot cities with a known uptake" in w for w in result.report["warnings"])


def test_missing_cells_are_not_read_as_zero_uptake(world):
    """Dropping every 75+ cell must leave the judgement close: the total still holds them."""
    obs = world.observations
    without = obs[obs["segment"].astype(str) != "75+"]
    base = run_evaluation(world.cities, obs, seed=0).viability
    blind = run_evaluation(world.cities, without, seed=0).viability
    ratio = blind["expected_uptake"] / base["expected_uptake"]
    assert ratio.median() == pytest.approx(1.0, abs=0.1)


def test_cities_share_what_their_country_adds_when_the_pilots_show_it(result):
    """The generated world gives each country its own uptake: the judgement learns it."""
    drivers = [json.loads(d) for d in result.viability["drivers"]]
    assert any("country_effect_pct" in d for d in drivers)
