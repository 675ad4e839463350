"""`python -m bench`: help, the benchmarks it finds, and an exit code that says whether all ran."""

import subprocess
import sys
import types
from pathlib import Path

import pytest

import bench.__main__ as runner

CHECKOUT = Path(__file__).resolve().parents[2]


def test_help_lists_the_benchmarks_and_exits_zero():
    shown = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        capture_output=True,
        text=True,
        cwd=CHECKOUT,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "usage: python -m bench" in shown.stdout
    for name in ("dashboard", "evaluation", "hub_ingest", "import", "intake", "snapshot"):
        assert name in shown.stdout


def test_the_runner_is_not_counted_as_a_benchmark():
    assert "__main__" not in runner.benchmark_names()
    assert not any(name.startswith("_") for name in runner.benchmark_names())


def test_an_unknown_benchmark_is_refused_with_the_known_ones(capsys):
    with pytest.raises(SystemExit) as refused:
        runner.main(["nonsense"])
    assert refused.value.code == 2
    assert "unknown benchmark nonsense; benchmarks: dashboard" in capsys.readouterr().err


def stand_in(name: str, run) -> None:
    module = types.ModuleType(f"bench.{name}")
    module.run = run
    sys.modules[module.__name__] = module


def test_exit_zero_when_every_benchmark_ran_and_one_when_one_failed(monkeypatch, capsys):
    def broken():
        raise RuntimeError("no database")

    stand_in("quick", lambda: [("requests/s", 12.5), ("ratio (goal >= 0.5)", 0.75)])
    stand_in("broken", broken)
    monkeypatch.setattr(runner, "benchmark_names", lambda: ["broken", "quick"])
    try:
        assert runner.main(["quick"]) == 0
        assert "12.500" in capsys.readouterr().out
        assert runner.main([]) == 1
        shown = capsys.readouterr()
        assert "RuntimeError('no database')" in shown.out and "12.500" in shown.out
        assert "benchmarks that failed: broken" in shown.err
    finally:
        del sys.modules["bench.quick"], sys.modules["bench.broken"]
