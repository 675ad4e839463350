"""A small demo federation in real units: the hub sees the uptake the simulator meant."""

import math

import pytest
import sqlalchemy as sa

from carmen.demo import prepare
from federation.hub.aggregates.models import AggregateCell
from federation.hub.app import create_app as create_hub
from federation.hub.database import get_db as hub_db
from federation.hub.evaluations.models import EvaluationRun
from federation.hub.nodes.models import Node

pytestmark = pytest.mark.heavy

# Ten of the demo's smaller cities, of ten countries: half of them pilot each service, so some
# cities lie inside the range the pilots span (with two or three, every other city lies outside
# it and can only be `pilot first`).
SMALL = [
    "Tartu",
    "Jelgava",
    "Limerick",
    "Trento",
    "Umeå",
    "Larisa",
    "Oulu",
    "Sibiu",
    "Graz",
    "Plovdiv",
]
MONTHS = 5
# Months with fewer expected users than this may have their count suppressed (k = 5).
COMPARED_FROM = 12


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    from carmen.demo import Ports

    root = tmp_path_factory.mktemp("units") / "demo"
    state = prepare(
        root=root, fresh=False, cities=SMALL, months=MONTHS, ports=Ports(nodes=0, hub=0)
    )
    return state, create_hub({"INSTANCE_PATH": root / "hub"})


def _published_users(hub) -> dict[tuple[str, str, str], int]:
    """Distinct citizens per (node, service code, month), as the hub stores them."""
    with hub_db(hub).session() as session:
        rows = session.execute(
            sa.select(
                Node.slug, AggregateCell.service_code, AggregateCell.period, AggregateCell.value
            )
            .join(Node, Node.id == AggregateCell.node_id)
            .where(
                AggregateCell.measure == "citizens",
                AggregateCell.segment == "all",
                AggregateCell.channel == "all",
            )
        )
        return {(slug, code, period): value for slug, code, period, value in rows}


def test_uptake_on_the_hub_is_what_the_simulator_meant_within_poisson_noise(small_demo):
    state, hub = small_demo
    published = _published_users(hub)
    compared = set()
    for slug, services in state.intended.items():
        for code, months in services.items():
            expected = observed = 0.0
            for period, users in months.items():
                if users < COMPARED_FROM:
                    continue
                assert (slug, code, period) in published, (slug, code, period, users)
                expected += users
                observed += published[(slug, code, period)]
            if expected == 0:
                continue
            compared.add((slug, code))
            # Four standard deviations of a Poisson count: a real mismatch (a share of the
            # population, a unit off by 1,000, users lost on the way) is far outside.
            assert abs(observed - expected) <= 4 * math.sqrt(expected) + 1, (
                slug,
                code,
                observed,
                expected,
            )
    # Every city and every service is compared (a small city's least used service may never
    # expect enough users in a month to be sure its count is published).
    assert {slug for slug, _ in compared} == set(state.intended)
    assert {code for _, code in compared} == {
        code for services in state.intended.values() for code in services
    }


def test_uptake_is_in_real_units_of_a_city_not_a_sample_of_it(small_demo):
    _, hub = small_demo
    published = _published_users(hub)
    with hub_db(hub).session() as session:
        population = {
            slug: people for slug, people in session.execute(sa.select(Node.slug, Node.population))
        }
    last = max(period for _, _, period in published)
    reports = [
        users * 1000 / population[slug]
        for (slug, code, period), users in published.items()
        if period == last and code == "issue-report"
    ]
    # Cities' 311 services see one to a few reports per 1,000 people a month (docs/demo.md).
    assert reports and all(0.5 <= uptake <= 5 for uptake in reports), reports


def test_a_small_demo_judges_services_with_more_than_one_verdict(small_demo):
    _, hub = small_demo
    with hub_db(hub).session() as session:
        run = session.scalars(sa.select(EvaluationRun)).one()
    judged = {row["verdict"] for row in run.results["viability"] if row["score"] is not None}
    assert len(judged) > 1, judged
