"""Options and helpers shared by the `carmen` command groups."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

instance_option = click.option(
    "--instance",
    "instance",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The node's instance folder (settings, database, services).",
)

instances_option = click.option(
    "--instance",
    "instances",
    multiple=True,
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A node's instance folder (repeat for each city).",
)


def port_option(flag: str, default: int, help_text: str, *, any_free: bool = False):
    """An option naming a loopback port; with `any_free`, 0 lets the system choose a free one."""
    return click.option(
        flag,
        default=default,
        show_default=True,
        type=click.IntRange(0 if any_free else 1, 65535),
        help=help_text,
    )


def listen_options(port: int):
    """The --host and --port options of a command that serves, listening on port by default."""

    def decorate(function):
        function = port_option("--port", port, "Port to listen on.")(function)
        return click.option(
            "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
        )(function)

    return decorate


def simulation_options(*, smallest_scale: float, scale_help: str):
    """The --scale and --seed options of a command that simulates citizens."""

    def decorate(function):
        function = click.option(
            "--seed", default=7, show_default=True, help="Seed of the simulation."
        )(function)
        return click.option(
            "--scale",
            default=1.0,
            show_default=True,
            type=click.FloatRange(smallest_scale, 1),
            help=scale_help,
        )(function)

    return decorate


def open_node(instance: Path):
    """The app of a node instance, or a clear error for the command line."""
    from node.instance import InstanceError, open_app
    from runtime.settings import SettingsError

    try:
        return open_app(instance)
    except (InstanceError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from exc


@contextmanager
def node_session(instance: Path) -> Iterator[tuple]:
    """A node instance's app and a database session, committed when the block ends without error.

    What the node refuses (not found, a conflict, invalid input) ends the command with its
    message and commits nothing.
    """
    from node.database import get_db
    from node.errors import NodeError

    app = open_node(instance)
    with app.app_context(), get_db(app).session() as db_session:
        try:
            yield app, db_session
        except NodeError as exc:
            raise click.ClickException(str(exc)) from exc
        db_session.commit()


def print_settings(settings_class, instance: Path) -> None:
    """Every setting of an instance with its value (secrets masked), type, default and help."""
    from runtime.settings import SettingsError

    try:
        settings = settings_class.load(instance.resolve())
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Settings of {settings.instance_path} ({settings.file_name})")
    for name, type_name, default, value, help_text in settings.describe():
        click.echo(f"\n{name} = {value}    ({type_name}; default: {default})\n    {help_text}")


def serve_wsgi(app, *, host: str, port: int, threads: int = 8) -> None:
    """Serve a WSGI app with waitress until Ctrl-C."""
    from waitress import serve

    try:
        serve(app, host=host, port=port, threads=threads, ident="carmen")
    except KeyboardInterrupt:  # a clean stop, not a traceback
        click.echo("stopped")
