"""Killing the hub and the node workers mid-sync loses nothing and counts nothing twice."""

import pytest

from reliability.chaos import run

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.heavy]


def test_hub_totals_equal_node_totals_after_the_hub_and_workers_are_killed(redis_url):
    result = run(redis_url, months=1, scale=0.005)
    assert result.skipped is None
    assert result.problems == []
    assert result.unsynced_at_restart > 0, "the kills left nothing to catch up: no chaos"
    assert result.cases_after > result.cases_before
    assert result.missing_at_hub == result.extra_at_hub == 0
    assert result.node_rows == result.hub_rows > 0
    assert result.node_submitted == result.hub_submitted > 0
