"""Running one benchmark on its own: its options with --help, then its figures, one a line."""

import argparse
from collections.abc import Callable


def run_alone(
    run: Callable[..., list[tuple[str, float | str]]],
    doc: str | None,
    module: str,
    *,
    count: tuple[str, int, str] | None = None,
    small: str | None = None,
    options: dict[str, dict] | None = None,
) -> None:
    """Parse `python -m bench.NAME`'s options, run the benchmark and print its figures.

    `count` is (name, default, help) of an optional positional size, `small` the help of a
    `--small` flag, `options` further `--flag`s with their `add_argument` keywords; each
    becomes the keyword argument of `run` named after it.
    """
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=(doc or "").strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if count:
        name, default, help_text = count
        parser.add_argument(name, nargs="?", type=int, default=default, help=help_text)
    if small:
        parser.add_argument("--small", action="store_true", help=small)
    for flag, keywords in (options or {}).items():
        parser.add_argument(flag, **keywords)
    for figure, value in run(**vars(parser.parse_args())):
        print(line(figure, value))


def line(figure: str, value: float | str) -> str:
    """One figure as `python -m bench.NAME` prints it."""
    return f"{figure:<64} {value if isinstance(value, str) else f'{value:,.3f}'}"
