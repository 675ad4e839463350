"""`carmen node alerts-due`: send the alerts whose hold (quiet hours, daily cap) has ended."""

from pathlib import Path

import click

from carmen.cli.common import instance_option


@click.command("alerts-due")
@instance_option
def alerts_due(instance: Path) -> None:
    """Send held alerts whose time has come, and any whose queueing was lost.

    Beat does this every five minutes on a real deployment; an embedded node has no beat, so run
    this from cron (or by hand) there.
    """
    from node.alerts import service as alerts
    from node.alerts.tasks import DELIVER_DUE
    from node.celery_app import get_celery
    from node.database import get_db
    from node.instance import InstanceError, open_app

    try:
        app = open_app(instance)
    except InstanceError as exc:
        raise click.ClickException(str(exc)) from exc
    with app.app_context():
        with get_db(app).session() as db_session:
            due = len(alerts.due_deliveries(db_session=db_session))
        celery = get_celery(app)
        celery.tasks[DELIVER_DUE].apply_async()
        done = "tried" if celery.conf.task_always_eager else "queued"
    click.echo(f"{due} alert deliveries due, {done}")
