"""`carmen dashboard`: the coordinators' dashboards on their own, reading a hub over HTTP."""

import click

from carmen.cli.common import listen_options


@click.command()
@click.option(
    "--hub", "hub_url", required=True, help="The hub's address, e.g. http://127.0.0.1:8700."
)
@click.option(
    "--token",
    envvar="CARMEN_DASHBOARD_TOKEN",
    default=None,
    help="A read-API token every visitor reads with (default: coordinators log in).",
)
@listen_options(port=8050)
@click.option("--threads", type=int, default=8, show_default=True, help="Waitress worker threads.")
def dashboard(hub_url: str, token: str | None, host: str, port: int, threads: int) -> None:
    """Serve the coordinators' dashboards, reading the hub's read API at --hub."""
    from waitress import serve as waitress_serve

    from dashboards import create_dashboard

    app = create_dashboard(hub_url, token)
    click.echo(f"dashboards on http://{host}:{port}/ reading the hub at {hub_url}")
    waitress_serve(app.server, host=host, port=port, threads=threads)
