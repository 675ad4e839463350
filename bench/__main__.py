"""Run every benchmark module in bench/ (or those named) and print one table of figures."""

import importlib
import pkgutil
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table


def main(argv: list[str]) -> int:
    """Run the named benchmarks, or all of them, each exposing run() -> list of (figure, value)."""
    here = Path(__file__).parent
    names = argv or sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name != "common")
    table = Table(title="CARMEN benchmarks")
    for column in ("benchmark", "figure", "value"):
        table.add_column(column)
    failed = 0
    for name in names:
        started = time.perf_counter()
        try:
            figures = importlib.import_module(f"bench.{name}").run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed += 1
            table.add_row(name, "error", repr(exc))
            continue
        for figure, value in figures:
            table.add_row(name, figure, value if isinstance(value, str) else f"{value:,.3f}")
        table.add_row(name, "wall time (s)", f"{time.perf_counter() - started:,.1f}")
    Console().print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
