"""Run every benchmark module in bench/ (or those named) and print one table of figures."""

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table


def benchmark_names() -> list[str]:
    """The benchmark modules: every module of bench/ but this runner and private helpers."""
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    """Run the named benchmarks, or all of them, each exposing run() -> list of (figure, value)."""
    known = benchmark_names()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the benchmarks and print their figures, each with a ratio to a "
        "baseline measured in the same run. Exits 0 when every benchmark ran, 1 when one failed.",
        epilog="benchmarks: " + ", ".join(known) + ". Run one alone with its options as "
        "`python -m bench.NAME --help`.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    names = parser.parse_args(argv).names or known
    unknown = [name for name in names if name not in known]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; benchmarks: {', '.join(known)}")
    table = Table(title="CARMEN benchmarks")
    for column in ("benchmark", "figure", "value"):
        table.add_column(column)
    failed = []
    for name in names:
        started = time.perf_counter()
        try:
            figures = importlib.import_module(f"bench.{name}").run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            table.add_row(name, "error", repr(exc))
            continue
        for figure, value in figures:
            table.add_row(name, figure, value if isinstance(value, str) else f"{value:,.3f}")
        table.add_row(name, "wall time (s)", f"{time.perf_counter() - started:,.1f}")
    Console().print(table)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
