"""The `carmen` command: one group per part, each defined in its own module."""

import click

from carmen.cli.asp import asp
from carmen.cli.dashboard import dashboard
from carmen.cli.demo import demo
from carmen.cli.evaluate import evaluate
from carmen.cli.hub import hub
from carmen.cli.node import node
from carmen.cli.node_alerts import alerts_due
from carmen.cli.node_sync import enroll, sync, sync_status
from carmen.cli.service import service
from carmen.cli.simulate import simulate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="carmen-federation")
def main() -> None:
    """CARMEN federation: city nodes, the federation hub, evaluation and the demo."""


main.add_command(node)
for command in (enroll, sync, sync_status, alerts_due):
    node.add_command(command)
main.add_command(hub)
main.add_command(evaluate)
main.add_command(demo)
main.add_command(asp)
main.add_command(service)
main.add_command(simulate)
main.add_command(dashboard)
