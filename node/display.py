"""Words and formats the web pages show for the domain's codes, in the reader's language."""

from typing import Any
from urllib.parse import urlencode

from flask import Flask, request
from flask_babel import format_datetime, get_locale
from flask_babel import lazy_gettext as _l

from node.cases.models import ActorKind, CaseStatus, Event, EventKind, Priority
from node.services.schemas import ServiceSpec

STATUS_LABELS = {
    CaseStatus.NEW: _l("New"),
    CaseStatus.ACKNOWLEDGED: _l("Acknowledged"),
    CaseStatus.IN_PROGRESS: _l("In progress"),
    CaseStatus.RESOLVED: _l("Resolved"),
    CaseStatus.REJECTED: _l("Rejected"),
    CaseStatus.DUPLICATE: _l("Duplicate"),
}

PRIORITY_LABELS = {
    Priority.LOW: _l("Low"),
    Priority.NORMAL: _l("Normal"),
    Priority.HIGH: _l("High"),
    Priority.URGENT: _l("Urgent"),
}

EVENT_LABELS = {
    EventKind.SUBMITTED: _l("Request submitted"),
    EventKind.ROUTED: _l("Sent to a department"),
    EventKind.ACKNOWLEDGED: _l("Acknowledged"),
    EventKind.STARTED: _l("Work started"),
    EventKind.RESOLVED: _l("Resolved"),
    EventKind.REJECTED: _l("Rejected"),
    EventKind.MARKED_DUPLICATE: _l("Marked as a duplicate"),
    EventKind.REOPENED: _l("Reopened"),
    EventKind.ASSIGNED: _l("Assigned"),
    EventKind.PRIORITY_CHANGED: _l("Priority changed"),
    EventKind.NOTE_ADDED: _l("Internal note"),
    EventKind.REPLY_SENT: _l("Reply from the city"),
    EventKind.MESSAGE_RECEIVED: _l("Message received"),
    EventKind.MESSAGE_DELIVERED: _l("Message delivered"),
    EventKind.MESSAGE_FAILED: _l("Message not delivered"),
    EventKind.FEEDBACK: _l("Feedback"),
    EventKind.PROFILE_CREATED: _l("Profile created"),
    EventKind.PROFILE_UPDATED: _l("Profile updated"),
    EventKind.CONSENT_CHANGED: _l("Consent changed"),
    EventKind.DATA_EXPORTED: _l("Data downloaded"),
    EventKind.CITIZEN_ERASED: _l("Profile erased"),
}

CHANNEL_LABELS = {
    "web": _l("web portal"),
    "app": _l("mobile app"),
    "sms": _l("SMS"),
    "email": _l("e-mail"),
    "phone": _l("phone"),
    "counter": _l("counter"),
}

ACTOR_LABELS = {
    ActorKind.CITIZEN: _l("citizen"),
    ActorKind.SYSTEM: _l("system"),
    ActorKind.STAFF: _l("staff"),
}

# Short field messages the domain layer uses, so that the portal can show them translated.
FIELD_MESSAGES = {
    "required": _l("This field is required."),
    "already used": _l("Another profile already uses this."),
    "unknown code": _l("No case has this tracking code."),
    "same case": _l("A case cannot duplicate itself."),
    "too long": _l("This is too long."),
    "wrong password": _l("The password is wrong."),
    "at least 10 characters": _l("Choose at least 10 characters."),
    "unknown attribute": _l("This question is not part of the service."),
}


def field_message(message: str) -> str:
    """The reader's-language form of a domain field message, or the message itself."""
    label = FIELD_MESSAGES.get(message)
    return str(label) if label is not None else message


def attribute_answers(spec: ServiceSpec, values: dict[str, Any]) -> list[tuple[str, str]]:
    """A request's attribute answers as (question, answer), with list keys shown by name."""
    answers = []
    for attribute in spec.attributes:
        if attribute.code not in values:
            continue
        names = {v.key: v.name for v in attribute.values}
        given = values[attribute.code]
        items = given if isinstance(given, list) else [given]
        answers.append((attribute.description, ", ".join(names.get(str(i), str(i)) for i in items)))
    known = {a.code for a in spec.attributes}
    # Answers to questions the service no longer asks are still shown, under their code.
    answers += [(code, str(value)) for code, value in values.items() if code not in known]
    return answers


def actor_of(event: Event) -> str:
    """Who made a change, as staff read it: the staff member's name or e-mail, else the kind."""
    if event.actor_staff is not None:
        return event.actor_staff.name or event.actor_staff.email
    return str(ACTOR_LABELS[event.actor_kind])


def _label(table: dict[Any, Any], value: Any) -> str:
    label = table.get(value)
    return str(label) if label is not None else str(value).replace("_", " ")


def language_url(code: str) -> str:
    """This page in another language, keeping its other query parameters."""
    args = request.args.to_dict()
    args["lang"] = code
    return f"{request.path}?{urlencode(args)}"


def init_app(app: Flask) -> None:
    """Make the labels and formats available to every template."""
    app.jinja_env.filters["status_label"] = lambda v: _label(STATUS_LABELS, CaseStatus(v))
    app.jinja_env.filters["priority_label"] = lambda v: _label(PRIORITY_LABELS, Priority(v))
    app.jinja_env.filters["event_label"] = lambda v: _label(EVENT_LABELS, EventKind(v))
    app.jinja_env.filters["channel_label"] = lambda v: _label(CHANNEL_LABELS, v) if v else ""
    app.jinja_env.filters["when"] = lambda v: format_datetime(v, "d MMM yyyy, HH:mm") if v else ""
    app.jinja_env.filters["actor"] = actor_of
    app.jinja_env.globals["language_url"] = language_url
    app.jinja_env.globals["get_locale"] = get_locale
