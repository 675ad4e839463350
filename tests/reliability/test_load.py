"""A tiny load run: concurrent clients over loopback, every request answered and written."""

import pytest

from reliability.load import run_load

pytestmark = pytest.mark.heavy


def test_concurrent_open311_posts_are_all_answered_and_written():
    result = run_load(requests=60, seconds=60, clients=4, threads=4)
    assert result.first_errors == []
    assert result.errors == 0
    assert result.sent == 60
    assert result.cases_written == 60
    assert len(result.latencies) == 60
