"""The pooled uptake model and the services' cost models."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from evaluation.costs import CostModel, cost_model, template_costs
from evaluation.pooled import PooledUptakeModel, city_folds


@parametrize_with_checks([PooledUptakeModel(cv=3)])
def test_the_pooled_model_follows_the_scikit_learn_contract(estimator, check):
    check(estimator)


def test_services_with_few_pilots_borrow_the_context_effect_the_others_show():
    rng = np.random.default_rng(0)
    rows = []
    for s, n in enumerate([40, 40, 40, 6]):
        x = rng.normal(size=n)
        rate = np.exp(1.0 + 0.1 * s + 0.5 * x + rng.normal(0, 0.1, n))
        rows += [(s, c, xi, r) for c, (xi, r) in enumerate(zip(x, rate, strict=True))]
    service, city, x, y = map(np.array, zip(*rows, strict=True))
    city = np.char.add(service.astype(str), city.astype(str))
    model = PooledUptakeModel().fit(
        x[:, None], y, exposure=np.full(len(y), 50.0), service=service, city=city
    )
    assert model.slopes_[3, 0] == pytest.approx(0.5 * model.scale_[0], rel=0.25)
    assert model.alpha_ in model.cv_errors_


def test_folds_keep_a_city_together_and_do_not_depend_on_the_data():
    groups = np.array(["a", "b", "a", "c", "b", "d"])
    folds = city_folds(groups, 2, seed=0)
    assert folds[0] == folds[2] and folds[1] == folds[4]
    np.testing.assert_array_equal(folds, city_folds(groups, 2, seed=0))


def test_every_template_declares_a_cost_model_and_a_larger_city_breaks_even_sooner():
    costs = template_costs()
    assert {"issue-report", "alert-subscription", "appointment-booking", "consultation"} <= set(
        costs
    )
    model = cost_model("issue-report", templates=costs)
    assert model.source == "template.toml of issue-report"
    small, large = model.break_even(
        np.array([20_000, 2_000_000]), digital_share=0.7, requests_per_citizen=1.2
    )
    assert small == pytest.approx(100 * large)


def test_costs_are_overridden_per_federation_then_per_run_channel_by_channel():
    costs = template_costs()
    model = cost_model(
        "issue-report",
        templates=costs,
        overrides={"default": {"monthly": 3000}, "issue-report": {"request": {"phone": 9.0}}},
        overrides_source="--costs costs.toml",
    )
    assert model.monthly == 3000 and model.request["phone"] == 9.0
    assert model.request["counter"] == costs["issue-report"]["request"]["counter"]
    assert model.source == "--costs costs.toml"
    with pytest.raises(ValueError, match="unknown cost figures setupp"):
        CostModel().overridden({"setupp": 1}, "x")


def test_a_mostly_shared_figure_keeps_one_effect_where_another_may_differ_by_service():
    rng = np.random.default_rng(1)
    rows = []
    for s in range(4):
        x = rng.normal(size=(12, 2))
        # The first figure's effect differs by service; the second's is the same for all.
        rate = np.exp(1.0 + (0.2 + 0.3 * s) * x[:, 0] + 0.4 * x[:, 1] + rng.normal(0, 0.3, 12))
        rows += [(s, f"{s}-{c}", *x[c], rate[c]) for c in range(12)]
    service, city, x0, x1, y = map(np.array, zip(*rows, strict=True))
    X = np.column_stack([x0, x1]).astype(float)
    fit = {"exposure": np.full(len(y), 50.0), "service": service, "city": city}
    alike = PooledUptakeModel(alphas=(10.0,)).fit(X, y, **fit)
    shared = PooledUptakeModel(alphas=(10.0,), mostly_shared=[1]).fit(X, y, **fit)
    assert np.ptp(shared.slopes_[:, 1]) < np.ptp(alike.slopes_[:, 1]) / 5
    assert np.ptp(shared.slopes_[:, 0]) > 0.5 * np.ptp(alike.slopes_[:, 0])


def test_an_optional_figure_enters_only_when_it_clearly_lowers_the_cross_validated_error():
    rng = np.random.default_rng(2)
    n = 60
    x, size = rng.normal(size=n), rng.normal(size=n)
    fit = {"exposure": np.full(n, 50.0), "city": np.arange(n)}
    X = np.column_stack([x, size])
    strong = np.exp(1.0 + 0.5 * x + 0.5 * size + rng.normal(0, 0.1, n))
    model = PooledUptakeModel(optional=[1], optional_margin=0.05).fit(X, strong, **fit)
    assert model.uses_optional_ and model.slopes_[0, 1] > 0
    none = np.exp(1.0 + 0.5 * x + rng.normal(0, 0.1, n))
    errors = PooledUptakeModel(optional=[1]).fit(X, none, **fit).set_errors_
    margin = errors["without"] / errors["with"] - 1 + 0.01  # just above what size gains here
    model = PooledUptakeModel(optional=[1], optional_margin=max(margin, 0.01)).fit(X, none, **fit)
    assert not model.uses_optional_ and model.slopes_[0, 1] == 0
