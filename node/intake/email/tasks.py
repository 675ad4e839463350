"""Celery task of the e-mail channel: prune the raw messages kept past their retention."""

from pathlib import Path

from celery import shared_task
from flask import current_app

from node.database import get_db
from node.intake.email import archive

PRUNE_MAIL = "carmen_node.prune_mail"


@shared_task(name=PRUNE_MAIL, ignore_result=True)
def prune_mail() -> None:
    """Delete raw messages past MAIL_RETENTION_DAYS (run daily by beat); idempotent."""
    settings = archive.MailSettings.from_config(current_app.config, Path(current_app.instance_path))
    with get_db().session() as db_session:
        archive.prune(db_session=db_session, settings=settings)
        db_session.commit()
