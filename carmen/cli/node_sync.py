"""`carmen node enroll`, `sync` and `sync-status`: the node's link to the federation hub."""

import click

from carmen.cli.common import instance_option, open_node


@click.command()
@instance_option
@click.option("--hub", "hub_url", required=True, help="The hub's base URL, e.g. http://hub:8400.")
@click.option("--token", required=True, help="One-time enrollment token from `carmen hub enroll`.")
@click.option("--slug", help="The node's name in the federation (default: country-city).")
def enroll(instance, hub_url, token, slug):
    """Register this node and its public key with the federation hub."""
    from carmen.operations import OperationError, enroll_node

    app = open_node(instance)
    try:
        name, k = enroll_node(app, instance=instance, hub_url=hub_url, token=token, slug=slug)
    except OperationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"enrolled as {name} (k = {k}) with {hub_url}")


@click.command()
@instance_option
@click.option(
    "--now",
    is_flag=True,
    help="Push each pending month once, in this process, instead of queueing tasks that retry.",
)
def sync(instance, now):
    """Build the snapshots of changed months and send every pending one to the hub.

    With --now, the months held back (in their grace period, or a change the interval audit
    would not let through) are listed after the pushes, with the reason."""
    from carmen.operations import OperationError, sync_node
    from runtime.celery_app import get_celery

    app = open_node(instance)
    if not now:
        with app.app_context():
            get_celery(app).tasks["carmen_node.sync"].apply_async()
        click.echo("sync queued")
        return
    try:
        results = sync_node(app, instance=instance)
    except OperationError as exc:
        raise click.ClickException(str(exc)) from exc
    failed = 0
    for period, result in results.items():
        click.echo(f"{period}\t{result.outcome.value}\t{result.message}")
        failed += not result.acknowledged
    held = _held(app)
    for period, reason in held:
        click.echo(f"{period}\theld\t{reason}")
    summary = (
        f"{len(results) - failed} acknowledged, {failed} not" if results else "nothing to send"
    )
    click.echo(summary + (f"; {len(held)} held back" if held else ""))
    if failed:
        raise SystemExit(1)


def _held(app) -> list[tuple[str, str]]:
    """The months not sent yet on purpose (grace period, or a change the audit holds back)."""
    from node.database import get_db
    from node.sync import service as sync_service

    with get_db(app).session() as db_session:
        return sync_service.held_periods(
            db_session=db_session, release=sync_service.release_settings(app.config)
        )


@click.command("sync-status")
@instance_option
def sync_status(instance):
    """Show each month's snapshot: revision built, revision acknowledged, last error, and the
    months held back (in their grace period, or a change the interval audit would not pass)."""
    from rich.console import Console
    from rich.table import Table

    from node.database import get_db
    from node.sync import service as sync_service

    app = open_node(instance)
    table = Table(title=f"{app.config['CITY']}: snapshots")
    columns = ("period", "revision", "acknowledged", "state", "attempts", "epsilon", "last error")
    for column in columns:
        table.add_column(column)
    with get_db(app).session() as db_session:
        periods = sync_service.all_periods(db_session=db_session)
        for row in periods:
            state = "refused" if row.refused else "pending" if row.pending else "acknowledged"
            table.add_row(
                row.period,
                str(row.revision),
                str(row.acknowledged_revision),
                state,
                str(row.attempts),
                f"{row.epsilon_spent:g}" if row.epsilon_spent else "-",
                row.last_error or "",
            )
    Console().print(table)
    held = _held(app)
    for period, reason in held:
        click.echo(f"{period}\theld back: {reason}")
    pending = sum(row.pending for row in periods)
    summary = f"{pending} pending, {len(periods) - pending} acknowledged"
    click.echo(summary + (f", {len(held)} held back" if held else ""))
