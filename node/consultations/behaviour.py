"""Consultations as a behaviour: a question answered once per citizen, counted apart from who."""

from datetime import timedelta

from node.consultations import service as consultations
from node.consultations.schemas import BEHAVIOUR, read_settings
from node.consultations.tasks import CLOSE_DUE
from node.consultations.views import bp
from node.errors import InvalidInput
from node.plugins import Behaviour, SmsRequest
from node.services.models import Service
from node.services.schemas import ServiceSpec


def _refuse_case(service: Service, spec: ServiceSpec) -> InvalidInput:
    # A case would keep the citizen next to their choice; node/consultations counts the choice
    # apart from who made it.
    by_sms = f" or by SMS: {spec.sms_keyword} <option>" if spec.sms_keyword else ""
    return InvalidInput(
        f"{spec.name} is a consultation, not a request: take part on the portal at "
        f"/consultations/{service.code}{by_sms}",
        {"service_code": "a consultation takes no requests"},
    )


def _answer_sms(request: SmsRequest) -> tuple[str, str]:
    # `<KEYWORD> <option>`: counted, never a case.
    answer = consultations.answer_sms(
        db_session=request.db_session,
        service=request.service,
        citizen=request.citizen,
        text_after_keyword=request.text,
        language=request.language,
        now=request.now,
    )
    return answer.reply, answer.outcome


CONSULTATIONS = Behaviour(
    name=BEHAVIOUR,
    refuse_case=_refuse_case,
    portal_endpoint="consultations.page",  # answered once and anonymously, never as a case
    answer_sms=_answer_sms,
    read_settings=lambda folder, timezone: read_settings(folder),
    blueprints=(bp,),  # the consultation page and staff's open/close
    task_modules=("node.consultations.tasks",),
    beat={
        "close-consultations": {  # past their close date
            "task": CLOSE_DUE,
            "schedule": timedelta(minutes=15),
        }
    },
    erase=consultations.forget_contact_checks,
    publishes_requests=False,  # a participation is a choice tied to a person
)
