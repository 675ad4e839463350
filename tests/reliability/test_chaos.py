"""Killing the hub and the node workers mid-sync loses nothing and counts nothing twice.

Both run real Celery workers on the Redis named by CARMEN_TEST_REDIS_URL, and are skipped with
that reason without one.
"""

import pytest

from reliability.chaos import run

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.heavy]


def test_hub_totals_equal_node_totals_after_the_hub_and_workers_are_killed(redis_url):
    result = run(redis_url, months=1, scale=0.05)
    assert result.skipped is None
    assert result.problems == []
    assert result.unsynced_at_restart > 0, "the kills left nothing to catch up: no chaos"
    assert result.cases_after > result.cases_before
    assert result.missing_at_hub == result.extra_at_hub == 0
    assert result.node_rows == result.hub_rows > 0
    assert result.node_submitted == result.hub_submitted > 0


def test_duplicate_reordered_concurrent_and_cut_pushes_lose_and_double_nothing(redis_url):
    """Each node syncs through its own Celery worker on Redis, as deployed."""
    from reliability.sync_faults import FAULTS, run_fault_trials

    result = run_fault_trials(trials=18, seed=7, broker_url=redis_url)
    assert result.workers == 2
    assert result.trials == 18
    assert set(result.faults) > {"duplicate", "cut_after_commit"}
    assert set(result.faults) <= set(FAULTS)
    assert result.compared > 15  # the hub holds counts to compare: the check could fail
    assert (result.lost, result.double_counted, result.problems) == (0, 0, [])
