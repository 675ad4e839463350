"""Celery tasks of bookings: publish slots and send reminders; thin, idempotent, retried."""

from celery import shared_task
from flask import current_app

from node.bookings import service as bookings
from node.bookings.schemas import BookingSettings, settings_for
from node.cases.schemas import Actor
from node.database import get_db
from node.errors import NotFound
from node.messaging.tasks import lost_after, run_attempt
from node.services.models import Service
from runtime.celery_app import DeliveryTask, get_celery

REMIND = "carmen_node.booking_reminder"
REMIND_DUE = "carmen_node.booking_reminders_due"
PUBLISH = "carmen_node.publish_booking_slots"


def _settled(services: list[Service]) -> list[tuple[Service, BookingSettings]]:
    """Each service with its rules; one whose settings.toml is missing is logged and left out,
    so it cannot hold up the reminders of the others."""
    found = []
    for service in services:
        try:
            found.append((service, current_settings(service.code)))
        except (NotFound, OSError, KeyError, ValueError):
            current_app.logger.exception("booking service %s has unreadable settings", service.code)
    return found


def current_settings(service_code: str) -> BookingSettings:
    """The booking rules of an installed service, under the current app's settings."""
    config = current_app.config
    return settings_for(
        services_dir=config["SERVICES_DIR"],
        service_code=service_code,
        timezone=config["TIMEZONE"],
    )


@shared_task(name=REMIND, base=DeliveryTask, bind=True, ignore_result=True)
def remind(self: DeliveryTask, booking_id: int, service_code: str) -> None:
    """Send one booking's reminder; a failed attempt is recorded, then retried later."""
    run_attempt(
        self,
        bookings.send_reminder,
        f"the reminder of booking {booking_id} failed",
        booking_id=booking_id,
        settings=current_settings(service_code),
    )


@shared_task(name=REMIND_DUE, ignore_result=True)
def remind_due() -> int:
    """Queue the reminder of every booking that is due one and has none yet, and every failed
    reminder whose retry is due (run by beat, and by the node itself without a broker)."""
    queued = 0
    with get_db().session() as db_session:
        due = [
            (booking_id, service.code, 0)
            for service, settings in _settled(bookings.booking_services(db_session=db_session))
            for booking_id in bookings.due_reminders(
                db_session=db_session, service_code=service.code, settings=settings
            )
        ]
        due += bookings.due_reminder_retries(db_session=db_session, lost_after=lost_after())
    task = get_celery().tasks[REMIND]
    for booking_id, service_code, attempts in due:
        task.apply_async(args=[booking_id, service_code], retries=attempts)
        queued += 1
    return queued


@shared_task(name=PUBLISH, ignore_result=True)
def publish_slots() -> int:
    """Publish every booking service's slots up to its horizon (run daily by beat)."""
    published = 0
    with get_db().session() as db_session:
        for service, settings in _settled(bookings.booking_services(db_session=db_session)):
            published += bookings.generate_slots(
                db_session=db_session,
                service_code=service.code,
                settings=settings,
                actor=Actor.system(),
            )
        db_session.commit()
    return published
