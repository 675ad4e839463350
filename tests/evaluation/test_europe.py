"""The judgement of every city of the Eurostat/UN table, from its context alone."""

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from evaluation import evaluate_europe, load_europe, run_evaluation
from evaluation.run import europe_summary

EU_CITIES = Path(__file__).resolve().parents[2] / "carmen" / "data" / "eu_cities.csv"


@pytest.fixture(scope="module")
def europe(world):
    table, summaries = evaluate_europe(world.cities, world.observations, load_europe(EU_CITIES))
    return table, summaries


def test_every_service_is_judged_in_every_european_city(world, europe):
    table, _ = europe
    services = world.truth["service"].nunique()
    assert len(table) == services * len(load_europe(EU_CITIES))
    judged = table[["expected_uptake", "low", "high", "score"]]
    # Cities missing some Eurostat figures are judged on the figures they have.
    assert judged.notna().all().all()
    assert (table["low"] <= table["expected_uptake"]).all()
    assert (table["expected_uptake"] <= table["high"]).all()


def test_the_summary_says_for_how_many_people_cities_and_countries_a_service_is_viable(europe):
    table, summaries = europe
    for summary in summaries:
        rows = table[(table["service"] == summary["service"]) & (table["verdict"] == "replicate")]
        assert summary["viable_cities"] == len(rows)
        assert summary["viable_countries"] == rows["country"].nunique()
        assert summary["viable_population"] == pytest.approx(rows["population"].sum())
        millions = f"{rows['population'].sum() / 1e6:.1f} million people"
        assert millions in summary["sentence"]
        assert (
            f"in {len(rows)} cities across {rows['country'].nunique()} countries"
            in (summary["sentence"])
        )


def test_a_higher_target_leaves_fewer_people_for_whom_a_service_is_viable(world):
    from evaluation import EvaluationConfig

    europe = load_europe(EU_CITIES)
    easy, _ = evaluate_europe(world.cities, world.observations, europe, seed=0)
    hard, _ = evaluate_europe(
        world.cities,
        world.observations,
        europe,
        config=EvaluationConfig(target_uptake_ratio=1.5),
        seed=0,
    )
    people = [t.loc[t["verdict"] == "replicate", "population"].sum() for t in (easy, hard)]
    assert people[1] < people[0]


def test_cities_outside_the_pilots_context_are_flagged_as_extrapolated(world, europe):
    table, _ = europe
    service = table["service"].iloc[0]
    rows = table[table["service"] == service]
    europe_table = load_europe(EU_CITIES)
    outside = europe_table["internet_use_pct"] < world.cities["internet_use_pct"].min()
    assert rows["extrapolated"].to_numpy()[outside.to_numpy()].all()


def test_the_summary_counts_replicate_verdicts_as_viable():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "population": [1_000_000, 2_500_000, 400_000],
            "country": ["BE", "FR", "FR"],
            "verdict": ["replicate", "replicate", "pilot first"],
        }
    )
    summary = europe_summary(frame, "book-appointment")
    assert summary["sentence"].startswith(
        "book-appointment: viable for 3.5 million people in 2 cities across 2 countries"
    )
    assert summary["pilot_first_cities"] == 1
    assert np.isclose(summary["pilot_first_population"], 400_000)


def test_a_city_in_a_country_without_pilots_gets_a_wider_band_than_the_federation_gives(
    world, result, europe
):
    table, _ = europe
    unseen = ~table["country"].isin(world.cities["country"].unique())
    assert unseen.any()
    width = (table["high"] - table["low"]) / table["expected_uptake"]
    federation = result.viability
    federation_width = (federation["high"] - federation["low"]) / federation["expected_uptake"]
    assert width[unseen].median() > federation_width.median()


def _population_matters(world, exponent: float):
    """The world's observations with every pilot's counts scaled by (population / 200,000)^e."""
    population = world.cities.set_index("city_id")["population"]
    obs = world.observations.copy()
    factor = (obs["city_id"].astype(str).map(population).astype(float) / 200_000) ** exponent
    obs["value"] = (obs["value"] * factor.to_numpy()).round()
    return obs


def _within_country_rank(table, service: str) -> list[float]:
    rows = table[table["service"] == service]
    out = []
    for _, country in rows.groupby("country"):
        if len(country) > 5 and country["population"].nunique() > 5:
            out.append(stats.spearmanr(country["population"], country["expected_uptake"])[0])
    return out


def test_inside_a_country_cities_are_not_ranked_by_population_unless_the_pilots_show_it(
    world, europe
):
    table, _ = europe
    # The generated world's uptake does not depend on population: one figure per country.
    per_country = table.groupby(["service", "country"])["expected_uptake"].nunique()
    assert (per_country == 1).all()
    scaled = _population_matters(world, 0.6)
    shown, _ = evaluate_europe(world.cities, scaled, load_europe(EU_CITIES))
    ranks = _within_country_rank(shown, "service-00")
    assert ranks and np.allclose(ranks, 1.0)


def test_a_context_column_the_europe_table_names_differently_is_reported(world):
    cities = world.cities.rename(columns={"internet_use_pct": "internet_use_percent"})
    result = run_evaluation(
        cities, world.observations, seed=0, europe_cities=load_europe(EU_CITIES)
    )
    warning = [w for w in result.report["warnings"] if "internet_use_percent" in w]
    assert warning and "it has 'internet_use_pct'" in warning[0]


def test_the_headline_says_for_how_many_people_a_service_is_not_viable(world):
    from evaluation import EvaluationConfig

    strict = EvaluationConfig(costs={"default": {"monthly": 50_000}})
    _, summaries = evaluate_europe(
        world.cities, world.observations, load_europe(EU_CITIES), config=strict
    )
    for summary in summaries:
        assert summary["not_viable_cities"] > 0
        millions = f"{summary['not_viable_population'] / 1e6:.1f} million"
        assert (
            f"not viable for {millions} people in {summary['not_viable_cities']}"
            in (summary["sentence"])
        )
