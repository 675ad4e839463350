"""City clusters and the node's citizen usage clusters."""

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from evaluation import CITIZEN_USAGE_FEATURES, CitizenUsageClustering
from evaluation.profiles import CityClustering


@parametrize_with_checks(
    [
        CityClustering(k_max=4, n_init=2, random_state=0),
        CitizenUsageClustering(n_clusters=3, batch_size=64, n_init=1, random_state=0),
    ]
)
def test_estimators_follow_the_scikit_learn_contract(estimator, check):
    check(estimator)


def blobs(rng, centres, size, spread=0.3):
    return np.vstack([rng.normal(c, spread, (size, len(c))) for c in centres])


def test_city_clusters_find_the_number_of_groups_by_silhouette():
    rng = np.random.default_rng(0)
    data = blobs(rng, [(0, 0, 0), (5, 5, 0), (0, 5, 5)], 20)
    model = CityClustering(k_max=5, n_init=3, random_state=0).fit(data)
    assert model.n_clusters_ == 3
    assert max(model.silhouette_scores_, key=model.silhouette_scores_.get) == 3
    assert len(set(model.labels_[:20])) == 1 and len(set(model.labels_)) == 3
    assert model.transform(data).shape == (60, 2)


def test_city_clusters_tolerate_missing_figures_and_are_deterministic():
    rng = np.random.default_rng(1)
    data = blobs(rng, [(0, 0), (4, 4)], 15)
    data[3, 1] = np.nan
    first = CityClustering(k_max=4, n_init=3, random_state=7).fit(data)
    second = CityClustering(k_max=4, n_init=3, random_state=7).fit(data)
    np.testing.assert_array_equal(first.labels_, second.labels_)
    np.testing.assert_allclose(first.embedding_, second.embedding_)


def test_the_evaluation_writes_clusters_with_a_projection_and_profiles(world, result):
    clusters = result.clusters
    assert list(clusters["city_id"]) == list(world.cities["city_id"])
    assert clusters[["cluster", "x", "y"]].notna().all().all()
    assert result.report["clusters"]["k"] == clusters["cluster"].nunique()
    assert result.report["clusters"]["criterion"] == "silhouette"
    users = clusters[[f"users_{s}" for s in ("16-24", "25-54", "55-74", "75+")]]
    channels = clusters[[c for c in clusters.columns if c.startswith("channel_")]]
    piloting = users.notna().all(axis=1)
    np.testing.assert_allclose(channels[piloting].sum(axis=1), 1.0)
    assert (users[piloting].sum(axis=1) <= 1.0 + 1e-9).all()


def citizens(n, rng):
    """Three kinds of citizens: app regulars, occasional web users, phone-only elders."""
    kind = rng.choice(3, n, p=[0.3, 0.5, 0.2])
    frame = pd.DataFrame(0.0, index=range(n), columns=list(CITIZEN_USAGE_FEATURES))
    frame["requests_app"] = np.where(kind == 0, rng.poisson(12, n), 0)
    frame["requests_web"] = np.where(kind == 1, rng.poisson(2, n) + 1, rng.poisson(0.2, n))
    frame["requests_phone"] = np.where(kind == 2, rng.poisson(4, n) + 1, 0)
    frame["services_used"] = np.where(kind == 0, 4, 1) + rng.poisson(0.5, n)
    frame["months_active"] = np.where(kind == 0, 10, np.where(kind == 1, 2, 5))
    frame["satisfaction_mean"] = np.where(rng.random(n) < 0.3, np.nan, rng.uniform(1, 5, n))
    return frame, kind


def test_usage_clusters_separate_kinds_of_citizens_and_describe_them_for_staff():
    rng = np.random.default_rng(2)
    frame, kind = citizens(6000, rng)
    # Batches of 256 out of 6,000 citizens: the estimator draws its own mini-batches.
    model = CitizenUsageClustering(n_clusters=3, batch_size=256, random_state=0).fit(frame)
    assert model.n_steps_ is not None
    again = CitizenUsageClustering(n_clusters=3, batch_size=256, random_state=0).fit(frame)
    np.testing.assert_array_equal(model.labels_, again.labels_)
    for k in range(3):  # each kind of citizen lands (almost) in one cluster
        assert np.bincount(model.labels_[kind == k]).max() / (kind == k).sum() > 0.95
    profiles = model.profiles_
    assert profiles["share"].sum() == pytest.approx(1.0)
    app_cluster = profiles["requests_app"].idxmax()
    assert profiles.loc[app_cluster, "months_active"] == pytest.approx(10, abs=0.5)
    assert list(model.predict(frame.head(50))) == list(model.labels_[:50])


def test_usage_clusters_choose_k_by_silhouette_when_asked():
    rng = np.random.default_rng(3)
    frame, _ = citizens(1500, rng)
    model = CitizenUsageClustering(
        n_clusters=None, k_range=(2, 5), n_init=1, silhouette_sample=800, random_state=0
    ).fit(frame)
    assert model.n_clusters_ == max(model.silhouette_scores_, key=model.silhouette_scores_.get)
    assert set(model.silhouette_scores_) == {2, 3, 4, 5}
