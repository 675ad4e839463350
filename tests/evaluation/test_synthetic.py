"""The generated worlds: the same seed gives the same files, and the truth without luck."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from carmen.cli import main
from evaluation.synthetic import generate_world
from evaluation.synthetic_alt import generate_alt_world

GENERATORS = {"project": generate_world, "alt": generate_alt_world}


@pytest.fixture(scope="module")
def alt_world():
    """A small alternate world: 40 cities, 3 services."""
    return generate_alt_world(n_cities=40, n_services=3, seed=5)


@pytest.mark.parametrize("name", GENERATORS)
def test_the_same_seed_gives_the_same_world_and_another_seed_another(name):
    generate = GENERATORS[name]
    first, again, other = (generate(n_cities=30, n_services=2, seed=s) for s in (3, 3, 4))
    for table in ("cities", "observations", "truth"):
        pd.testing.assert_frame_equal(getattr(first, table), getattr(again, table))
    assert not first.observations["value"].equals(other.observations["value"])


# Keywords that take every city's own noise away, and the spread of that noise they then set.
NO_LUCK = {"project": {"noise": 0.0}, "alt": {"noise": 0.0, "city_noise": 0.0}}
SOME_LUCK = {"project": ({"noise": 0.3}, 0.3), "alt": ({"noise": 0.3, "city_noise": 0.1}, 0.316)}


@pytest.mark.parametrize("name", GENERATORS)
def test_the_truth_less_luck_differs_from_the_truth_by_each_citys_own_noise(name):
    generate = GENERATORS[name]
    calm = generate(n_cities=40, n_services=2, **NO_LUCK[name]).truth
    assert np.allclose(calm["uptake"], calm["uptake_without_luck"])
    keywords, spread = SOME_LUCK[name]
    lucky = generate(n_cities=200, n_services=4, seed=1, **keywords)
    truth = lucky.truth
    luck = np.log(truth["uptake"] / truth["uptake_without_luck"])
    assert luck.std() == pytest.approx(spread, rel=0.15)
    # A country's own effect is one figure per service and country, shared by its cities.
    country = lucky.cities.set_index("city_id")["country"]
    effect = np.log(truth["uptake_without_luck"] / truth["uptake_without_luck_or_country"])
    by_country = effect.groupby([truth["service"], truth["city_id"].map(country)]).std()
    assert (by_country.fillna(0) < 1e-9).all()
    assert effect.std() > 0.05


def test_the_alternate_world_is_uneven_and_incomplete_as_real_federations_are(alt_world):
    cities = alt_world.cities
    shares = cities.filter(like="share_")
    no_mix = shares.isna().all(axis=1)
    assert 0 < no_mix.sum() < len(cities)
    assert shares.notna().all(axis=1).sum() + no_mix.sum() == len(cities)  # all four or none
    assert cities["broadband_households_pct"].isna().any()
    national = cities.groupby("country")[["internet_use_pct", "egov_index_2018"]].nunique()
    assert (national == 1).all().all()
    assert cities["population"].max() > 10 * cities["population"].median()
    pilots = alt_world.truth.groupby("service")["piloted"].sum()
    assert pilots.between(6, 14).all()


def test_carmen_evaluate_reads_the_alternate_worlds_files(alt_world, tmp_path):
    cities, observations = tmp_path / "cities.csv", tmp_path / "observations.csv"
    alt_world.cities.to_csv(cities, index=False)
    alt_world.observations.to_csv(observations, index=False)
    out = tmp_path / "out"
    args = ["--cities", cities, "--observations", observations, "--out", out, "--resamples", 20]
    result = CliRunner().invoke(main, ["evaluate", *map(str, args)])
    assert result.exit_code == 0, result.output
    judged = pd.read_csv(out / "viability.csv")
    not_piloted = alt_world.truth[~alt_world.truth["piloted"]]
    assert len(judged) == len(not_piloted)
    assert judged[["expected_uptake", "low", "high"]].notna().all().all()
    assert len(pd.read_csv(out / "backtest_cities.csv")) > 0
    assert "'broadband_households_pct' is known for" in result.output
