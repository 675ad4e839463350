"""`carmen node`: commands for the node."""

import click


@click.group()
def node() -> None:
    """Set up and run node."""
