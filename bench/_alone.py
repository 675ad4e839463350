"""Running one benchmark on its own: its options with --help, then its figures, one a line."""

import argparse
from collections.abc import Iterable


def parser(doc: str | None, module: str) -> argparse.ArgumentParser:
    """An option parser for `python -m bench.NAME` described by the module's docstring."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=(doc or "").strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def print_figures(figures: Iterable[tuple[str, float | str]]) -> None:
    """Print each figure and its value, numbers with three decimals."""
    for figure, value in figures:
        print(f"{figure:<64} {value if isinstance(value, str) else f'{value:,.3f}'}")
