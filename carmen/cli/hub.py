"""`carmen hub`: commands for the hub."""

import click


@click.group()
def hub() -> None:
    """Set up and run hub."""
