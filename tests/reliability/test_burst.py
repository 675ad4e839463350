"""Under gunicorn with four workers and a Redis broker, one address's burst is limited as one."""

import pytest

from reliability.burst import run

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_a_burst_from_one_address_gets_its_limit_whichever_worker_answers(redis_url):
    result = run(redis_url, workers=4, limit=10, per_address=30)
    assert result.skipped is None
    assert result.problems == []
    # From the loopback address itself, and from three citizens behind the trusted proxy.
    assert len(result.answers) == 4
    for answers in result.answers.values():
        assert answers[200] == 10 and answers[429] == 20
    assert result.cases_written == 40
