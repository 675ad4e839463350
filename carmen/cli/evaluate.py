"""`carmen evaluate`: run the replication-viability evaluation over exported tables."""

import click


@click.command()
def evaluate() -> None:
    """Evaluate piloted services from the federation's export tables."""
    raise click.ClickException("the evaluation is not available yet")
