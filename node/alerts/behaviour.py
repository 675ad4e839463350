"""Alerts as a behaviour: an alert service keeps subscriptions, not cases."""

from datetime import timedelta

from node.alerts import service as alerts
from node.alerts.schemas import BEHAVIOUR, read_settings
from node.alerts.tasks import DELIVER_DUE
from node.alerts.views import bp
from node.plugins import Behaviour, SmsRequest


def _answer_sms(request: SmsRequest) -> tuple[str, str]:
    # `<KEYWORD> <topic> [<area>]` and `<KEYWORD> STOP`.
    return alerts.handle_sms(
        db_session=request.db_session,
        service=request.service,
        settings=request.settings(),
        text=request.text,
        citizen=request.citizen,
        citizen_of=request.citizen_of,
        language=request.language,
        city=request.city,
        now=request.now,
    )


ALERTS = Behaviour(
    name=BEHAVIOUR,
    portal_endpoint="alerts.subscriptions",  # a subscription is kept as such, not as a case
    answer_sms=_answer_sms,
    read_settings=lambda folder, timezone: read_settings(folder),
    blueprints=(bp,),  # subscriptions on the portal, publishing in the back office
    task_modules=("node.alerts.tasks",),
    beat={
        "deliver-due-alerts": {  # alerts held by quiet hours or lost
            "task": DELIVER_DUE,
            "schedule": timedelta(minutes=5),
        }
    },
    publishes_requests=False,  # a subscription says where a person lives or travels
    erase=alerts.end_subscriptions,  # an erased person hears no more alerts
)
