"""`carmen simulate`: months of citizens' activity on existing nodes, through the channels."""

import random

import click

from carmen.cli.common import instances_option, port_option, simulation_options


@click.command()
@instances_option
@click.option(
    "--months",
    default=18,
    show_default=True,
    type=click.IntRange(1, 120),
    help="Calendar months to play, ending with last month.",
)
@click.option(
    "--citizens",
    default=200,
    show_default=True,
    type=click.IntRange(0),
    help="Citizens registered in each city before the simulation starts (more are registered "
    "as the months need them).",
)
@simulation_options(
    smallest_scale=0.0001,
    scale_help="Share of each city's expected users played: 1 is the city's real uptake.",
)
@port_option(
    "--port",
    0,
    "Loopback port the nodes are served on while the simulation runs (0: any free one).",
    any_free=True,
)
def simulate(instances, months, scale, citizens, seed, port):
    """Play citizens' requests through Open311, SMS, e-mail and the call centre, and staff work.

    Each node is served on a loopback port (ASP mode) for the simulation: every channel is used
    over HTTP in every city every month, and the rest of the city's expected users (its
    population times each age band's rate, docs/demo.md) go through the node's service layer
    in batches. Behaviour follows each city's context from its node.toml
    (context figures and population_shares); SMS is used when the node has SMS_AUTH_TOKEN.
    Nodes need staff: an agent for phone calls and caseworkers or a supervisor for the cases.
    """
    from rich.progress import Progress

    from carmen.asp import open_nodes, path_dispatcher
    from carmen.serving import BackgroundServer
    from carmen.simulator import (
        SimulatedCity,
        pilot_months,
        prepare_city,
    )
    from carmen.simulator import simulate as play
    from node.database import utcnow
    from node.instance import InstanceError

    try:
        nodes = open_nodes(instances)
    except (InstanceError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        server = BackgroundServer(path_dispatcher(nodes), port=port)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    port = int(server.effective_port)
    rng = random.Random(seed)
    start = pilot_months(utcnow(), months)[0]
    try:
        with Progress() as progress:
            cities = []
            for node in nodes:
                city = SimulatedCity.of_node(
                    node.app,
                    base_url=f"http://127.0.0.1:{port}/{node.slug}",
                    rng=random.Random(rng.random()),
                )
                prepare_city(city, citizens=citizens, start=start)
                cities.append(city)
            task = progress.add_task("Simulating", total=months)
            report = play(
                cities,
                months=months,
                scale=scale,
                progress=lambda _m, done, _t: progress.update(task, completed=done),
            )
    finally:
        server.close()
    for channel, count in sorted(report.requests.items()):
        click.echo(f"{channel}\t{count}")
    click.echo(
        f"{report.total} requests, {report.cases_worked} cases resolved, "
        f"{len(report.refused)} refused"
    )
    for problem in report.refused[:10]:
        click.echo(f"refused: {problem}", err=True)
