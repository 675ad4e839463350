"""Run the reliability suite (load, fuzz, chaos, limits) and print one table; non-zero exit on a
failure.

`make reliability` runs this; pass options with RELIABILITY_ARGS="--examples 1000 ...".
PostgreSQL (for fuzzing on it too) and Redis (for the chaos run, and the limits under gunicorn)
come from --postgres / --redis, else from CARMEN_TEST_DATABASE_URL / CARMEN_TEST_REDIS_URL;
without them those parts are skipped and the table says why.
"""

import argparse
import os
import sys
import time

from rich.console import Console
from rich.table import Table

from reliability import burst, chaos, fuzz, load, sync_faults


def _value(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:,.3f}"


def main(argv: list[str] | None = None) -> int:
    """Run every part; return the exit status (1 when any check failed)."""
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="load: POSTs at most")
    parser.add_argument("--seconds", type=float, default=10.0, help="load: time budget at most")
    parser.add_argument("--clients", type=int, default=8, help="load: concurrent httpx clients")
    parser.add_argument("--examples", type=int, default=300, help="fuzz: examples per target")
    parser.add_argument("--postgres", help="fuzz on this PostgreSQL server too")
    parser.add_argument("--redis", help="chaos: the Redis of the node workers")
    parser.add_argument("--months", type=int, default=3, help="chaos: months of the demo pilot")
    parser.add_argument(
        "--scale", type=float, default=0.01, help="chaos: share of people simulated"
    )
    parser.add_argument("--rounds", type=int, default=3, help="chaos: rounds of kills")
    parser.add_argument(
        "--trials", type=int, default=120, help="chaos: sync fault trials (at least 100)"
    )
    parser.add_argument(
        "--parts",
        default="load,fuzz,chaos,sync-faults,limits",
        help="comma-separated parts to run (default: all)",
    )
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    postgres = args.postgres or os.environ.get("CARMEN_TEST_DATABASE_URL") or None

    table = Table(title="CARMEN reliability suite")
    for column in ("part", "figure", "value", "check"):
        table.add_column(column)
    failed = 0

    def add(part: str, figures: list[tuple[str, float | str]], check: str, started: float) -> None:
        for name, value in figures:
            table.add_row(part, name, _value(value), "")
        table.add_row(part, "wall time (s)", f"{time.perf_counter() - started:,.1f}", check)
        table.add_section()

    if "load" in parts:
        started = time.perf_counter()
        try:
            result = load.run_load(
                requests=args.requests, seconds=args.seconds, clients=args.clients
            )
            ok = result.errors == 0 and result.cases_written == result.sent - result.errors
            failed += not ok
            figures = result.figures() + [
                (f"error {n + 1}", m) for n, m in enumerate(result.first_errors)
            ]
            add("load", figures, "passed" if ok else "FAILED", started)
        except Exception as exc:  # one broken part must not hide the others' figures
            failed += 1
            add("load", [("error", repr(exc))], "FAILED", started)

    if "fuzz" in parts:
        started = time.perf_counter()
        try:
            results = fuzz.run(args.examples, postgres)
            figures: list[tuple[str, float | str]] = []
            for r in results:
                statuses = " ".join(f"{code}:{n}" for code, n in sorted(r.statuses.items()))
                figures.append((r.name, f"{r.examples} examples; {statuses}"))
                if r.failure:
                    figures.append((f"{r.name} FAILED", r.failure[:500]))
            bad = [r for r in results if r.failure]
            failed += bool(bad)
            if not postgres:
                figures.append(
                    ("PostgreSQL", "skipped: pass --postgres or set CARMEN_TEST_DATABASE_URL")
                )
            add("fuzz", figures, "FAILED" if bad else "passed", started)
        except Exception as exc:
            failed += 1
            add("fuzz", [("error", repr(exc))], "FAILED", started)

    if "chaos" in parts:
        started = time.perf_counter()
        try:
            outcome = chaos.run(
                args.redis, months=args.months, scale=args.scale, rounds=args.rounds
            )
            figures = outcome.figures() + [("problem", p[:500]) for p in outcome.problems]
            check = "skipped" if outcome.skipped else "FAILED" if outcome.problems else "passed"
            failed += bool(outcome.problems)
            add("chaos", figures, check, started)
        except Exception as exc:
            failed += 1
            add("chaos", [("error", repr(exc)[:500])], "FAILED", started)

    if "sync-faults" in parts:
        started = time.perf_counter()
        try:
            trials = sync_faults.run_fault_trials(trials=args.trials)
            bad = bool(trials.problems) or trials.lost or trials.double_counted
            failed += bool(bad)
            figures = trials.figures() + [("problem", p[:500]) for p in trials.problems[:10]]
            add("chaos: sync faults", figures, "FAILED" if bad else "passed", started)
        except Exception as exc:
            failed += 1
            add("chaos: sync faults", [("error", repr(exc)[:500])], "FAILED", started)

    if "limits" in parts:
        started = time.perf_counter()
        try:
            limited = burst.run(args.redis)
            check = "skipped" if limited.skipped else "FAILED" if limited.problems else "passed"
            failed += bool(limited.problems)
            add("limits", limited.figures(), check, started)
        except Exception as exc:
            failed += 1
            add("limits", [("error", repr(exc)[:500])], "FAILED", started)

    Console(width=max(120, Console().width)).print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
