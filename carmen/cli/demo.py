"""`carmen demo`: the whole story on one machine, on the embedded default."""

from pathlib import Path

import click

from carmen.cli.common import serve_wsgi


@click.command()
@click.option(
    "--root",
    default=Path("var/demo"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the demo's state.",
)
@click.option(
    "--city",
    default="Bologna",
    show_default=True,
    help="A city of the Eurostat table (carmen/data/eu_cities.csv).",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Loopback address to serve on."
)
@click.option(
    "--port",
    default=8311,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port of the node's portal and back office.",
)
@click.option("--fresh", is_flag=True, help="Throw away an earlier demo and start again.")
@click.option("--no-serve", is_flag=True, help="Prepare the demo and exit without serving.")
def demo(root, city, host, port, fresh, no_serve):
    """Create a node for a real European city, with its service and activity, and serve it."""
    from carmen.demo import banner, prepare
    from node.instance import open_app

    try:
        instance, logins = prepare(root=root, city_name=city, fresh=fresh)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    if no_serve:
        click.echo(
            banner(instance, logins, host=host, port=port).replace("serving", "ready, not serving")
        )
        return
    app = open_app(instance)
    click.echo(banner(instance, logins, host=host, port=port))
    serve_wsgi(app, host=host, port=port)
