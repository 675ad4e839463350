"""`carmen asp`: host several city nodes in one deployment."""

import click

from carmen.cli.common import instances_option, listen_options, serve_wsgi


@click.group()
def asp() -> None:
    """Host several city nodes in one deployment (application service provider mode)."""


@asp.command()
@instances_option
@click.option(
    "--by",
    "mount",
    type=click.Choice(["path", "host"]),
    default="path",
    show_default=True,
    help="path: each city under /<slug>/; host: each city on <slug>.<your domain>.",
)
@listen_options(port=8300)
def serve(instances, mount, host, port):
    """Serve every given node, each with its own database, staff and keys."""
    from carmen.asp import host_dispatcher, open_nodes, path_dispatcher
    from node.instance import InstanceError

    try:
        nodes = open_nodes(instances, by_host=mount == "host")
    except (InstanceError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for node in nodes:
        where = f"http://{host}:{port}/{node.slug}/" if mount == "path" else f"{node.slug}.<domain>"
        click.echo(f"{node.city}: {where}")
    app = path_dispatcher(nodes) if mount == "path" else host_dispatcher(nodes)
    serve_wsgi(app, host=host, port=port)
