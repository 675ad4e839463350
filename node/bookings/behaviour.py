"""Bookings as a behaviour: a booking service publishes slots that citizens book."""

from datetime import timedelta

from node.bookings import service as bookings
from node.bookings.schemas import BEHAVIOUR, read_settings
from node.bookings.tasks import PUBLISH, REMIND_DUE
from node.bookings.views import bp
from node.plugins import Behaviour, SmsRequest


def _answer_sms(request: SmsRequest) -> tuple[str, str]:
    # `<KEYWORD> <date> <time>`, `MOVE`, `CANCEL`.
    return bookings.answer_sms(
        db_session=request.db_session,
        service=request.service,
        settings=request.settings(),
        text=request.text,
        citizen=request.citizen,
        citizen_of=request.citizen_of,
        now=request.now,
    )


BOOKINGS = Behaviour(
    name=BEHAVIOUR,
    answer_sms=_answer_sms,
    read_settings=lambda folder, timezone: read_settings(folder=folder, timezone=timezone),
    blueprints=(bp,),  # free slots and booking (portal), day lists (office)
    task_modules=("node.bookings.tasks",),
    beat={
        "booking-reminders": {  # one reminder per booking
            "task": REMIND_DUE,
            "schedule": timedelta(minutes=5),
        },
        "publish-booking-slots": {  # every office's slots up to the horizon
            "task": PUBLISH,
            "schedule": timedelta(hours=6),
        },
    },
    publishes_requests=False,  # an appointment says who goes where, and when
)
