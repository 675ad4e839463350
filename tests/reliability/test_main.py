"""`python -m reliability` prints one table and fails the run when a check fails."""

import pytest

from reliability import __main__ as suite
from reliability import fuzz
from reliability.fuzz import FuzzResult

pytestmark = pytest.mark.heavy


def test_the_suite_prints_its_figures_and_passes(capsys):
    status = suite.main(["--parts", "load,fuzz", "--requests", "20", "--examples", "3"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "CARMEN reliability suite" in printed
    for figure in ("requests/s", "p99 latency (ms)", "error rate", "Open311 POST requests"):
        assert figure in printed


def test_a_failed_check_makes_the_suite_exit_non_zero(monkeypatch, capsys):
    crash = FuzzResult("hub POST snapshots", 3, "AssertionError: POST answered 500")
    monkeypatch.setattr(fuzz, "run", lambda *_args: [crash])
    status = suite.main(["--parts", "fuzz"])
    printed = capsys.readouterr().out
    assert status == 1
    assert "FAILED" in printed and "answered 500" in printed


def test_the_chaos_part_says_why_it_was_skipped_without_redis(monkeypatch, capsys):
    monkeypatch.delenv("CARMEN_TEST_REDIS_URL", raising=False)
    status = suite.main(["--parts", "chaos"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "skipped" in printed and "CARMEN_TEST_REDIS_URL" in printed


def test_the_limits_part_says_why_it_was_skipped_without_redis(monkeypatch, capsys):
    monkeypatch.delenv("CARMEN_TEST_REDIS_URL", raising=False)
    status = suite.main(["--parts", "limits"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "limits" in printed and "CARMEN_TEST_REDIS_URL" in printed
