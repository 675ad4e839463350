"""The words the web pages show for a case's codes (status, priority, events), in the reader's
language."""

from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

from node.cases.models import ActorKind, CaseStatus, Event, EventKind, Priority
from node.display import label
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
    EventKind.AUTOMATIC_MESSAGE: _l("Automatic message received"),
    EventKind.MAIL_RELEASED: _l("Quarantined message accepted"),
    EventKind.MAIL_REPLAYED: _l("Quarantined message taken again"),
    EventKind.STAFF_ALERTED: _l("Staff on duty alerted"),
    EventKind.STAFF_ALERT_FAILED: _l("Alert to staff on duty not delivered"),
    EventKind.FEEDBACK: _l("Feedback"),
    EventKind.PROFILE_CREATED: _l("Profile created"),
    EventKind.PROFILE_UPDATED: _l("Profile updated"),
    EventKind.CONSENT_CHANGED: _l("Consent changed"),
    EventKind.DATA_EXPORTED: _l("Data downloaded"),
    EventKind.CITIZEN_ERASED: _l("Profile erased"),
    EventKind.EVENTS_REDACTED: _l("Personal data redacted"),
}

ACTOR_LABELS = {
    ActorKind.CITIZEN: _l("citizen"),
    ActorKind.SYSTEM: _l("system"),
    ActorKind.STAFF: _l("staff"),
}


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


def init_app(app: Flask) -> None:
    """Make the case labels available to every template."""
    app.jinja_env.filters["status_label"] = lambda v: label(STATUS_LABELS, CaseStatus(v))
    app.jinja_env.filters["priority_label"] = lambda v: label(PRIORITY_LABELS, Priority(v))
    app.jinja_env.filters["event_label"] = lambda v: label(EVENT_LABELS, EventKind(v))
    app.jinja_env.filters["actor"] = actor_of
