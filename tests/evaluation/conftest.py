"""A generated federation with known truth, evaluated once per test session."""

import pytest

from evaluation import EvaluationResult, run_evaluation
from evaluation.synthetic import World, generate_world


@pytest.fixture(scope="session")
def world() -> World:
    """60 cities, 6 services each piloted by 24 cities for up to 18 months, small cells hidden."""
    return generate_world(n_cities=60, n_services=6, pilot_fraction=0.4, seed=11)


@pytest.fixture(scope="session")
def result(world: World) -> EvaluationResult:
    """The evaluation of the generated world with seed 0."""
    return run_evaluation(world.cities, world.observations, seed=0)


@pytest.fixture(scope="session")
def held_out(world: World, result: EvaluationResult):
    """The judgement of every city that did not pilot a service, next to the hidden truth."""
    truth = world.truth[~world.truth["piloted"]].rename(columns={"uptake": "truth"})
    return result.viability.merge(truth, on=["service", "city_id"], validate="one_to_one")
