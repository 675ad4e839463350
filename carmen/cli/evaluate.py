"""`carmen evaluate`: run the replication-viability evaluation over exported tables."""

from pathlib import Path

import click

_FILE = click.Path(exists=False, dir_okay=False, path_type=Path)


@click.command()
@click.option(
    "--cities", "cities_path", required=True, type=_FILE, help="cities.csv (columns above)."
)
@click.option(
    "--observations",
    "observations_path",
    required=True,
    type=_FILE,
    help="observations.csv (columns above).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the results (created if missing).",
)
@click.option(
    "--europe",
    "europe_path",
    type=_FILE,
    default=None,
    help="A Europe-wide city table with the columns of carmen/data/eu_cities.csv; adds europe.csv.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice.")
@click.option(
    "--threshold-replicate",
    type=click.FloatRange(0, 1),
    default=0.8,
    show_default=True,
    help="Score from which the verdict is 'replicate'.",
)
@click.option(
    "--threshold-pilot",
    type=click.FloatRange(0, 1),
    default=0.4,
    show_default=True,
    help="Score from which the verdict is 'pilot first' (below: 'not viable').",
)
@click.option(
    "--target-ratio",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Instead of its break-even uptake, a city must reach this fraction of the service's "
    "median pilot uptake.",
)
@click.option(
    "--target-uptake",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Instead of its break-even uptake, a city must reach this uptake (citizens per 1,000 "
    "per month) for every service.",
)
@click.option(
    "--costs",
    "costs_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A TOML file of cost figures replacing the service templates' [cost] tables, one "
    "table per service or [default] (docs/evaluation.md).",
)
@click.option(
    "--band-level",
    type=click.FloatRange(0.5, 0.999),
    default=0.9,
    show_default=True,
    help="Coverage of the uncertainty bands.",
)
@click.option(
    "--resamples",
    type=click.IntRange(10),
    default=200,
    show_default=True,
    help="Bootstrap resamples of pilot cities (--model context only).",
)
@click.option(
    "--model",
    type=click.Choice(["pooled", "context"]),
    default="pooled",
    show_default=True,
    help="pooled: one partially pooled model of every service (docs/evaluation.md); context: "
    "the earlier per-service ridge on context with bootstrap bands, kept to compare.",
)
def evaluate(
    cities_path: Path,
    observations_path: Path,
    out_dir: Path,
    europe_path: Path | None,
    seed: int,
    threshold_replicate: float,
    threshold_pilot: float,
    target_ratio: float | None,
    target_uptake: float | None,
    costs_path: Path | None,
    band_level: float,
    resamples: int,
    model: str,
) -> None:
    """Evaluate piloted services from the federation's export tables.

    Writes into the --out folder: kpis.csv (one row per service, city and month, and per pilot,
    each KPI with its band), clusters.csv, viability.csv (service, city_id, expected_uptake, low,
    high, target_uptake, score, verdict, extrapolated, model, drivers), backtest.csv,
    backtest_cities.csv and report.json; with --europe also europe.csv, every service judged in
    every city of the table from its context alone (that table has no age shares, so its bands
    are wider). docs/evaluation.md has the method.

    The target of a city is its break-even uptake: the service's fixed costs (its template's
    [cost] table, the hub's EVALUATION_COSTS or --costs) spread over the city's population,
    against what a request saves when it moves to a digital channel. --target-uptake or
    --target-ratio replace it.

    \b
    cities.csv, one row per city:
      city_id        unique identifier
      population     inhabitants (a positive number, required)
      share_16-24, share_25-54, share_55-74, share_75+
                     population share of each segment, 0-1 (all four or none;
                     a city may leave them empty)
      other numeric  context figures named as in eu_cities.csv (internet_use_pct,
                     digital_skills_basic_pct, egov_index_2018, ...); empty allowed
      city, country  text, kept but not used as context

    \b
    observations.csv, long form, one row per cell:
      city_id        a city_id of cities.csv
      service        the federation-wide service identity (the template)
      period         YYYY-MM (YYYY-M accepted)
      segment        16-24, 25-54, 55-74, 75+, unknown or all
      channel        web, app, sms, email, phone, counter or all
      measure        citizens, submitted, completed, completed_within_sla,
                     satisfaction_sum, satisfaction_count, and the histograms
                     time_to_acknowledge_h_le_1 .. _h_gt_720,
                     time_to_complete_h_le_1 .. _h_gt_720; others are ignored
      value          a non-negative number; empty or absent = suppressed (missing,
                     never zero)

    \b
    A city has piloted a service when it has observations for it; every other
    city gets an expected uptake with a band, a score (the probability of reaching
    its target uptake), a verdict (replicate, pilot first, not viable; pilot first
    wherever the city lies outside the range the pilots span) and its drivers.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from evaluation import EvaluationConfig, InputError, load_europe, load_tables, run_evaluation
    from evaluation.costs import load_costs

    if target_ratio is not None and target_uptake is not None:
        raise click.BadParameter(
            "give --target-uptake or --target-ratio, not both", param_hint="--target-ratio"
        )
    costs = None
    if costs_path is not None:
        try:
            costs = load_costs(costs_path)
        except (ValueError, OSError) as exc:  # tomllib's error is a ValueError
            raise click.BadParameter(f"{costs_path.name}: {exc}", param_hint="--costs") from exc
    if threshold_pilot > threshold_replicate:
        raise click.BadParameter(
            f"must not exceed --threshold-replicate ({threshold_replicate})",
            param_hint="--threshold-pilot",
        )
    try:
        config = EvaluationConfig(
            level=band_level,
            resamples=resamples,
            model=model,
            threshold_replicate=threshold_replicate,
            threshold_pilot=threshold_pilot,
            target_uptake_ratio=target_ratio,
            target_uptake=target_uptake,
            costs=costs,
            costs_source=f"{costs_path.name} (--costs)" if costs_path else "the run's costs",
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    console = Console(stderr=True)
    load_warnings: list[str] = []
    try:
        with console.status("reading the tables"):
            cities, observations = load_tables(
                cities_path, observations_path, warnings=load_warnings
            )
            europe = load_europe(europe_path) if europe_path is not None else None
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("starting", total=1)

            def progress(step: str, done: int, total: int) -> None:
                bar.update(task, description=step, completed=done, total=max(total, 1))

            result = run_evaluation(
                cities,
                observations,
                config=config,
                seed=seed,
                europe_cities=europe,
                progress=progress,
                warnings=load_warnings,
            )
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    files = result.write(out_dir)
    for path in files.values():
        click.echo(f"wrote {path}")
    trust = result.report.get("backtest", {}).get("trust")
    if trust:
        click.echo(trust)
    for row in result.report.get("services", []):
        target = row.get("target") or {}
        if target.get("sentence"):
            click.echo(
                f"{row['service']}: {target['sentence']}; "
                f"{row.get('replicate', 0)} replicate, {row.get('pilot first', 0)} pilot first, "
                f"{row.get('not viable', 0)} not viable"
            )
    for summary in result.report.get("europe", []):
        click.echo(summary["sentence"])
    for warning in result.report.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
