"""`carmen demo`: the whole CARMEN story on one machine, on the embedded default."""

from pathlib import Path

import click

from carmen.cli.common import port_option, simulation_options


@click.command()
@click.option(
    "--root",
    default=Path("var/demo"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the demo's hub, nodes and state.",
)
@click.option("--fresh", is_flag=True, help="Throw away an earlier demo and build it again.")
@simulation_options(
    smallest_scale=0.001,
    scale_help="Share of each city's expected users played: 1 is real units (the dashboards "
    "then show uptake as a city would see it); less is faster and reads lower.",
)
@click.option(
    "--cities",
    default=None,
    help="Comma-separated cities of the Eurostat table to build instead of the fourteen "
    "(e.g. Tallinn,Gent,Porto); a service is piloted in those of its planned cities given.",
)
@click.option(
    "--months",
    default=18,
    show_default=True,
    type=click.IntRange(1, 60),
    help="Months of pilot to play, ending with last month.",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Loopback address to serve on."
)
@port_option(
    "--nodes-port", 8300, "Port of the cities' portals and back offices (one path per city)."
)
@port_option("--hub-port", 8400, "Port of the hub and its dashboards (/dashboard/).")
@click.option("--no-serve", is_flag=True, help="Build the demo and exit without serving.")
@click.option(
    "--database-url",
    default=None,
    help="Real mode: a PostgreSQL server URL (postgresql+psycopg://user@host/db) on which "
    "the demo creates one database per node and one for the hub.",
)
@click.option(
    "--broker-url",
    default=None,
    help="Real mode: the Celery broker the nodes and the hub use (redis://host:6379/0); "
    "run their workers and beat as docs/deploy.md shows.",
)
def demo(
    root,
    fresh,
    scale,
    cities,
    months,
    seed,
    host,
    nodes_port,
    hub_port,
    no_serve,
    database_url,
    broker_url,
):
    """Build a federation of fourteen real European cities, play an 18-month pilot, serve it.

    A hub and fourteen city nodes of twelve countries (hosted together in ASP mode) pilot four
    services generated from the templates, each in seven cities, cloned from the first. As many
    simulated citizens as the city's real population would bring use them: every channel
    (Open311, SMS, e-mail, the call centre) over HTTP every month, the bulk through the node's
    service layer in batches; staff work the cases, the nodes sync to the hub, the hub
    evaluates, and the dashboards and portals are served. It ends with three lines on the
    judgement. A second run reuses the demo (--fresh builds it again). See docs/demo.md.
    """
    from carmen.demo import Ports, RealMode, banner, prepare, serve_forever, summary_of
    from carmen.operations import OperationError
    from service_templates.engine import TemplateError

    ports = Ports(host=host, nodes=nodes_port, hub=hub_port)
    if broker_url and not database_url:
        raise click.UsageError("--broker-url goes with --database-url (real mode)")
    real = RealMode(database_url, broker_url) if database_url else None
    try:
        state = prepare(
            root=root,
            fresh=fresh,
            scale=scale,
            seed=seed,
            ports=ports,
            cities=[c.strip() for c in cities.split(",") if c.strip()] if cities else None,
            months=months,
            real=real,
        )
    except (LookupError, RuntimeError, OperationError, TemplateError) as exc:
        raise click.ClickException(str(exc)) from exc
    if no_serve:
        click.echo("\n".join(summary_of(state)))
        click.echo(banner(state, ports).replace("serving (Ctrl-C to stop)", "ready, not serving"))
        return
    try:
        serve_forever(state, ports)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
