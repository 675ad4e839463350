"""Benchmark the evaluation: a federation of 1,000 cities x 50 services x 18 months end to end,
and the node's usage clustering of 1,000,000 citizens, MiniBatchKMeans against KMeans.

Baselines measured in the same run: the back-test's two naive predictors (the global mean of the
pilot cities, the nearest pilot city on context) for the judgement's quality, the 30 s goal for
its time, the earlier per-service context model (``EvaluationConfig(model="context")``) on the
same world for the judgement's time, and scikit-learn's KMeans on the same scaled data for the
clustering.

Run alone with ``python -m bench.evaluation`` (``--small``: a tenth of the size, for a quick check).
"""

import tempfile
import time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from bench import _alone
from evaluation import (
    CITIZEN_USAGE_FEATURES,
    CitizenUsageClustering,
    EvaluationConfig,
    run_evaluation,
)
from evaluation.synthetic import generate_world

GOAL_SECONDS = 30.0


def citizens_table(n: int, seed: int = 0) -> pd.DataFrame:
    """A node's citizens: five kinds of users with their own channels and habits."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(5, n, p=[0.25, 0.35, 0.15, 0.15, 0.10])
    app = np.array([8.0, 0.3, 0.1, 0.5, 2.0])[kind]
    web = np.array([1.0, 2.0, 0.2, 0.5, 3.0])[kind]
    phone = np.array([0.1, 0.3, 3.0, 0.5, 1.0])[kind]
    frame = pd.DataFrame(
        {
            "requests_web": rng.poisson(web),
            "requests_app": rng.poisson(app),
            "requests_sms": rng.poisson(np.array([0.1, 0.1, 0.5, 2.0, 0.2])[kind]),
            "requests_email": rng.poisson(np.array([0.1, 0.5, 0.1, 0.2, 1.0])[kind]),
            "requests_phone": rng.poisson(phone),
            "requests_counter": rng.poisson(np.array([0.0, 0.1, 1.0, 0.2, 0.5])[kind]),
            "services_used": 1 + rng.poisson(np.array([3.0, 0.5, 0.3, 0.5, 2.0])[kind]),
            "months_active": rng.integers(1, 13, n),
            "satisfaction_mean": np.where(rng.random(n) < 0.4, np.nan, rng.uniform(1, 5, n)),
        }
    )
    return frame[list(CITIZEN_USAGE_FEATURES)].astype(float)


def bench_evaluation(cities: int, services: int, periods: int) -> list[tuple[str, float | str]]:
    """Generate the federation, then time the evaluation and the writing of its files."""
    started = time.perf_counter()
    world = generate_world(
        n_cities=cities, n_services=services, n_periods=periods, pilot_fraction=0.2, seed=0
    )
    generated = time.perf_counter() - started
    started = time.perf_counter()
    result = run_evaluation(world.cities, world.observations, seed=0)
    evaluated = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        result.write(folder)
        written = time.perf_counter() - started
    overall = result.backtest.set_index("service").loc["overall"]
    total = evaluated + written
    started = time.perf_counter()
    earlier = run_evaluation(
        world.cities, world.observations, seed=0, config=EvaluationConfig(model="context")
    )
    context_model = time.perf_counter() - started
    earlier_overall = earlier.backtest.set_index("service").loc["overall"]
    return [
        ("world", f"{cities} cities x {services} services x {periods} periods"),
        ("observation rows", float(len(world.observations))),
        ("viability rows (service x city not piloted)", float(len(result.viability))),
        ("generating the world (s, not counted)", generated),
        ("evaluation, pooled model (s)", evaluated),
        ("evaluation, earlier per-service context model (s)", context_model),
        ("time pooled / earlier context model", evaluated / context_model),
        ("writing the files (s)", written),
        ("end to end (s)", total),
        (f"end to end / goal of {GOAL_SECONDS:.0f} s", total / GOAL_SECONDS),
        ("back-test Spearman, model", float(overall["spearman"])),
        ("back-test Spearman, nearest pilot", float(overall["spearman_nearest"])),
        ("back-test MAE model / global mean", float(overall["mae"] / overall["mae_global_mean"])),
        ("back-test MAE model / nearest pilot", float(overall["mae"] / overall["mae_nearest"])),
        ("back-test band coverage", float(overall["coverage"])),
        ("back-test Spearman, earlier context model", float(earlier_overall["spearman"])),
        ("back-test band coverage, earlier context model", float(earlier_overall["coverage"])),
    ]


def bench_clustering(n: int) -> list[tuple[str, float | str]]:
    """MiniBatchKMeans (the node's estimator) against KMeans on the same citizens.

    Both run single-threaded on the same scaled data, from the same seed, k = 8, one start.
    """
    frame = citizens_table(n)
    model = CitizenUsageClustering(n_clusters=8, n_init=1, random_state=0)
    started = time.perf_counter()
    model.fit(frame)
    estimator = time.perf_counter() - started
    scaled, _ = model._scale(frame, reset=False)  # the very data MiniBatchKMeans clustered
    with threadpool_limits(limits=1):
        started = time.perf_counter()
        minibatch_model = model._train(scaled, 8)
        minibatch = time.perf_counter() - started
        started = time.perf_counter()
        kmeans = KMeans(n_clusters=8, n_init=1, random_state=0).fit(scaled)
        full = time.perf_counter() - started
    minibatch_inertia = float(
        ((scaled - minibatch_model.cluster_centers_[minibatch_model.labels_]) ** 2).sum()
    )
    return [
        ("citizens clustered", float(n)),
        ("clustering set-up", "k = 8, one start, 1 thread each, the same scaled data"),
        ("CitizenUsageClustering.fit, scaling and profiles included (s)", estimator),
        ("MiniBatchKMeans on the scaled data (s)", minibatch),
        (f"KMeans on the same data, full, {kmeans.n_iter_} iterations (s)", full),
        ("time MiniBatchKMeans / KMeans", minibatch / full),
        ("inertia MiniBatchKMeans / KMeans", minibatch_inertia / float(kmeans.inertia_)),
    ]


def run(small: bool = False) -> list[tuple[str, float | str]]:
    """Both benchmarks at full size (or a tenth with ``small``)."""
    if small:
        return [*bench_evaluation(100, 50, 18), *bench_clustering(100_000)]
    return [*bench_evaluation(1000, 50, 18), *bench_clustering(1_000_000)]


if __name__ == "__main__":
    _alone.run_alone(run, __doc__, "bench.evaluation", small="a tenth of the size")
