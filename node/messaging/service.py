"""Telling citizens about their cases: which events to tell, on which channel, in which words.

`deliver` is one attempt at one event's notification; the task in `node.messaging.tasks` calls it
after the transaction that appended the event has committed, and again on a retry. Every attempt
appends MESSAGE_DELIVERED or MESSAGE_FAILED (channel and attempt number, never the text).
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.cases.models import Case, Event, EventKind
from node.cases.schemas import Actor
from node.cases.service import record
from node.database import utcnow
from node.messaging import texts
from node.messaging.adapters import Adapters, DeliveryError
from node.messaging.models import DeliveryStatus, InboundMessage, Notification, StaffAlert
from node.profiles.models import Citizen
from node.services import service as catalogue
from node.services.models import Service
from node.staff.models import Role, StaffUser

PORTAL = "portal"  # the citizen's inbox in their account: not a Channel of the vocabulary
NONE = "none"  # a skip with no channel at all (no contact, no consent)
NOTIFY_KINDS = frozenset(
    {
        EventKind.ACKNOWLEDGED,
        EventKind.RESOLVED,
        EventKind.REJECTED,
        EventKind.MARKED_DUPLICATE,
        EventKind.REOPENED,
        EventKind.REPLY_SENT,
    }
)
STATUS_KINDS = NOTIFY_KINDS - {EventKind.REPLY_SENT}
# A message received that asks for a receipt (a new request by e-mail): the tracking code goes
# back on the channel it came by, as a reply to it.
RECEIPT = "receipt"
WHAT = {
    EventKind.ACKNOWLEDGED: "what_acknowledged",
    EventKind.RESOLVED: "what_resolved",
    EventKind.REJECTED: "what_rejected",
    EventKind.MARKED_DUPLICATE: "what_duplicate",
    EventKind.REOPENED: "what_reopened",
    EventKind.REPLY_SENT: "what_reply",
}
# The reason staff give is the citizen's to read only for a rejection; a reopening's is internal.
TOLD_REASON = frozenset({EventKind.REJECTED})
# Events older than this are history, not news: a case worked before the node sent messages
# does not flood its citizen with old notices on the next action.
NEWS_WINDOW = timedelta(days=1)
SMS_LENGTH = 320  # two concatenated SMS parts


class Outcome(enum.Enum):
    """What the task should do after an attempt."""

    DONE = "done"
    RETRY = "retry"


@dataclass(frozen=True)
class Plan:
    """The channel to tell a citizen on, or why they are not told."""

    channel: str
    skip_reason: str | None = None


def _unreachable_by(citizen: Citizen | None, channel: str) -> str | None:
    """Why the citizen cannot be told on this channel now, or None when they can."""
    if citizen is None or citizen.erased_at is not None:
        return "no contact"
    if not citizen.consent_contact:
        return "no consent to be contacted"
    if channel == Channel.EMAIL.value:
        return None if citizen.email else "no e-mail address"
    if channel == Channel.SMS.value:
        if not citizen.phone:
            return "no phone number"
        return "opted out of SMS" if citizen.sms_opt_out else None
    if channel == PORTAL:
        return None if citizen.password_hash else "no portal account"
    return "no contact"


def plan_channel(citizen: Citizen | None) -> Plan:
    """The citizen's preferred channel when it can reach them, else e-mail, SMS, then portal."""
    if citizen is None or citizen.erased_at is not None or not citizen.consent_contact:
        return Plan(NONE, _unreachable_by(citizen, NONE))
    preferred = citizen.preferred_channel
    if preferred in (Channel.WEB.value, Channel.APP.value):
        preferred = PORTAL
    for channel in (preferred, Channel.EMAIL.value, Channel.SMS.value, PORTAL):
        if _unreachable_by(citizen, channel) is None:
            return Plan(channel)
    if citizen.phone and citizen.sms_opt_out:
        return Plan(Channel.SMS.value, "opted out of SMS")
    return Plan(NONE, "no contact")


def is_receipt(event: Event) -> bool:
    """Whether the event is a message received that is answered with a receipt."""
    return event.kind is EventKind.MESSAGE_RECEIVED and bool(event.data.get(RECEIPT))


def events_to_notify(
    *, db_session: Session, case_id: int | None = None, now: datetime | None = None
) -> list[int]:
    """Ids of recent events (of one case, or of all) that citizens should hear about and have
    not yet: no notification row, whatever its status."""
    now = now or utcnow()
    told = sa.select(Notification.event_id)
    receipts = sa.and_(
        Event.kind == EventKind.MESSAGE_RECEIVED, Event.data[RECEIPT].as_boolean().is_(True)
    )
    query = (
        sa.select(Event.id)
        .join(Case, Case.id == Event.case_id)
        .where(
            Case.citizen_id.is_not(None),
            sa.or_(Event.kind.in_(NOTIFY_KINDS), receipts),
            Event.at >= now - NEWS_WINDOW,
            Event.id.not_in(told),
        )
        .order_by(Event.id)
    )
    if case_id is not None:
        query = query.where(Event.case_id == case_id)
    return list(db_session.scalars(query))


def _companion_reply(db_session: Session, event: Event) -> Event | None:
    """The reply written with a status move (same case, same instant), told with the move."""
    return db_session.scalar(
        sa.select(Event)
        .where(
            Event.case_id == event.case_id,
            Event.at == event.at,
            Event.kind == EventKind.REPLY_SENT,
        )
        .order_by(Event.id)
        .limit(1)
    )


def _is_told_with_a_move(db_session: Session, event: Event) -> bool:
    if event.kind is not EventKind.REPLY_SENT:
        return False
    moved = db_session.scalar(
        sa.select(sa.func.count()).where(
            Event.case_id == event.case_id, Event.at == event.at, Event.kind.in_(STATUS_KINDS)
        )
    )
    return bool(moved)


def service_name(*, db_session: Session, case: Case, language: str | None) -> str:
    """The name of a case's service in a reader's language (its [i18n] texts), else as written."""
    service = db_session.get(Service, case.service_code)
    if service is None:
        return case.service_code
    return catalogue.spec_of(service, language=language).name


def compose(
    *,
    db_session: Session,
    case: Case,
    event: Event,
    channel: str,
    language: str,
    city: str,
    public_url: str | None = None,
) -> tuple[str, str]:
    """The subject and text telling the citizen about the event, in their language; an e-mail
    links to the case's track page when the node's public address is known."""
    values = {
        "code": case.tracking_code,
        "service": service_name(db_session=db_session, case=case, language=language),
    }
    if is_receipt(event):
        return _receipt(event, values, language, city, public_url)
    what = texts.say(WHAT[event.kind], language, original=event.data.get("duplicate_of") or "")
    reply = event if event.kind is EventKind.REPLY_SENT else _companion_reply(db_session, event)
    reply_text = (reply.data.get("text") or "").strip() if reply is not None else ""
    reason = (event.data.get("reason") or "").strip() if event.kind in TOLD_REASON else ""
    subject = texts.say("subject", language, what=what, **values)
    if channel == Channel.SMS.value:
        body = texts.say("sms_notice", language, city=city, what=what, **values)
        extra = " ".join(part for part in (reason, reply_text) if part)
        if extra:
            body = f"{body} {extra}"
        if len(body) > SMS_LENGTH:
            body = body[: SMS_LENGTH - 1] + "…"
        return subject, body
    lines = [texts.say("greeting", language), "", texts.say("about", language, **values)]
    lines.append(what[0].upper() + what[1:] + ".")
    if reason:
        lines += ["", texts.say("reason_intro", language), reason]
    if reply_text:
        lines += ["", texts.say("reply_intro", language), reply_text]
    lines += ["", texts.say("follow", language, **values)]
    if public_url:
        lines.append(track_url(public_url, case.tracking_code))
    lines += ["", texts.say("signature", language, city=city)]
    return subject, "\n".join(lines)


def _receipt(
    event: Event, values: dict[str, str], language: str, city: str, public_url: str | None
) -> tuple[str, str]:
    """A receipt: a reply to the citizen's message, carrying the tracking code."""
    subject = (event.data.get("subject") or "").strip()
    subject = " ".join(subject.split()).removeprefix("Re: ").removeprefix("RE: ")
    if subject:
        subject = texts.say("receipt_subject", language, subject=subject[:200], **values)
    else:
        subject = texts.say("receipt_subject_new", language, **values)
    lines = [
        texts.say("greeting", language),
        "",
        texts.say("receipt_received", language, **values),
        texts.say("receipt_reply", language, **values),
        *([track_url(public_url, values["code"])] if public_url else []),
        "",
        texts.say("signature", language, city=city),
    ]
    return subject, "\n".join(lines)


def _thread(db_session: Session, case: Case, event: Event) -> dict[str, str]:
    """Headers that put a message in the citizen's thread: a reply to the message that opened
    the case (a receipt replies to the very message it answers)."""
    answered = event.data.get("message_id") if is_receipt(event) else None
    if answered is None:
        answered = db_session.scalar(
            sa.select(InboundMessage.external_id)
            .where(
                InboundMessage.case_id == case.id,
                InboundMessage.channel == Channel.EMAIL.value,
                InboundMessage.external_id.like("<%"),
            )
            .order_by(InboundMessage.id)
            .limit(1)
        )
    return {"In-Reply-To": answered, "References": answered} if answered else {}


def track_url(public_url: str, code: str) -> str:
    """The portal page where a request is followed by its tracking code."""
    return f"{public_url.rstrip('/')}/track?{urlencode({'code': code})}"


def _claim(db_session: Session, event: Event, case: Case, plan: Plan) -> Notification | None:
    """Create the event's notification row; None when another worker created it first."""
    row = Notification(
        event_id=event.id,
        case_id=case.id,
        citizen_id=case.citizen_id,
        channel=plan.channel,
        status=DeliveryStatus.PENDING,
        attempts=0,
        created_at=utcnow(),
    )
    db_session.add(row)
    try:
        db_session.flush()
    except IntegrityError:
        # The row is this session's first write, so rolling back loses nothing of ours.
        db_session.rollback()
        return None
    return row


def note_failure(
    row: Any, error: DeliveryError, *, final: bool, now: datetime, retry_delay: float
) -> bool:
    """Note a failed attempt on a delivery row (a notification, a staff alert, a reminder).

    Returns whether it was the last: the task's own last try, or a refusal no retry can change.
    A retried row records when it is due, for the sweep of a node without a broker.
    """
    final = final or error.permanent
    row.last_error = str(error)[:500]
    row.next_attempt_at = None if final else now + timedelta(seconds=retry_delay)
    if final:
        row.status = DeliveryStatus.FAILED
    return final


def note_sent(row: Any, *, now: datetime) -> None:
    """Note a delivery row's successful attempt."""
    row.status = DeliveryStatus.SENT
    row.sent_at = now
    row.last_error = row.next_attempt_at = None


def deliver(
    *,
    db_session: Session,
    event_id: int,
    attempt: int,
    final: bool,
    adapters: Adapters,
    city: str,
    mail_from: str = "no-reply@localhost",
    public_url: str | None = None,
    retry_delay: float = 0.0,
    now: datetime | None = None,
) -> Outcome:
    """Make one attempt at telling the citizen about an event; the caller commits.

    A notification already sent, failed or skipped is left alone, so calling this twice for the
    same event never sends twice. A failed attempt that will be retried records when
    (`retry_delay` seconds from now), for the sweep of a node without a broker.
    """
    event = db_session.get(Event, event_id)
    if event is None or event.case_id is None:
        return Outcome.DONE
    if event.kind not in NOTIFY_KINDS and not is_receipt(event):
        return Outcome.DONE
    case = db_session.get(Case, event.case_id)
    row = db_session.scalar(sa.select(Notification).where(Notification.event_id == event_id))
    if row is not None and row.status is not DeliveryStatus.PENDING:
        return Outcome.DONE
    citizen = case.citizen
    if is_receipt(event):  # on the channel the message came by, or not at all
        plan = Plan(event.channel or NONE, _unreachable_by(citizen, event.channel or NONE))
    else:
        plan = plan_channel(citizen)
    if row is None:
        if plan.skip_reason is None and _is_told_with_a_move(db_session, event):
            plan = Plan(plan.channel, "told with the status change")
        row = _claim(db_session, event, case, plan)
        if row is None:
            return Outcome.DONE
    else:
        # A retry stays on its channel, unless consent was withdrawn, STOP sent or the contact
        # removed since the first attempt: that is honoured.
        plan = Plan(row.channel, _unreachable_by(citizen, row.channel))
    if plan.skip_reason:
        row.status = DeliveryStatus.SKIPPED
        row.skip_reason = plan.skip_reason
        db_session.flush()
        return Outcome.DONE
    language = citizen.language or case.language
    if not row.body:
        row.subject, row.body = compose(
            db_session=db_session,
            case=case,
            event=event,
            channel=row.channel,
            language=language,
            city=city,
            public_url=public_url,
        )
    if row.channel == Channel.EMAIL.value and not row.message_id:
        # Chosen once, before the first attempt: a retry sends the same message again.
        row.message_id = make_msgid(domain=mail_from.rpartition("@")[2] or None)
    now = now or utcnow()
    row.attempts = attempt
    data = {"attempt": attempt, "about": event.kind.value, "notification": row.id}
    if is_receipt(event):
        data["about"] = RECEIPT
    try:
        headers = {}
        if row.channel == Channel.EMAIL.value:
            # RFC 3834: an automatic message, which auto-responders must not answer.
            automatic = "auto-replied" if is_receipt(event) else "auto-generated"
            headers = {"Message-ID": row.message_id, "Auto-Submitted": automatic}
            headers |= _thread(db_session, case, event)
        adapter = _send(adapters, row, citizen, language, headers)
    except DeliveryError as exc:
        final = note_failure(row, exc, final=final, now=now, retry_delay=retry_delay)
        data |= {"final": final, "permanent": exc.permanent}
        _attempted(db_session, EventKind.MESSAGE_FAILED, case, row.channel, now, data)
        return Outcome.DONE if final else Outcome.RETRY
    note_sent(row, now=now)
    data |= {"adapter": adapter}
    _attempted(db_session, EventKind.MESSAGE_DELIVERED, case, row.channel, now, data)
    return Outcome.DONE


def _attempted(
    db_session: Session,
    kind: EventKind,
    case: Case,
    channel: str,
    now: datetime,
    data: dict[str, Any],
) -> None:
    """Archive one attempt, delivered or failed: its channel and number, never the text."""
    record(
        db_session=db_session,
        kind=kind,
        actor=Actor.system(),
        case=case,
        channel=channel,
        at=now,
        data=data,
    )
    db_session.flush()


def _send(
    adapters: Adapters, row: Notification, citizen: Citizen, language: str, headers: dict
) -> str:
    """Hand the message to the channel's adapter; returns the adapter's name."""
    if row.channel == Channel.EMAIL.value:
        adapters.email.send(
            to=citizen.email,
            subject=row.subject,
            body=row.body,
            language=language,
            headers=headers,
        )
        return adapters.email.name
    if row.channel == Channel.SMS.value:
        adapters.sms.send(to=citizen.phone, body=row.body)
        return adapters.sms.name
    return PORTAL  # the row is the message: the citizen reads it in their account


def due_retries(
    *, db_session: Session, now: datetime | None = None, lost_after: timedelta = timedelta(0)
) -> list[tuple[int, int]]:
    """(event id, attempts so far) of notifications whose retry is due: at their time without a
    broker, or `lost_after` past it with one (whose own retry was then lost)."""
    now = now or utcnow()
    query = sa.select(Notification.event_id, Notification.attempts).where(
        Notification.status == DeliveryStatus.PENDING,
        Notification.next_attempt_at <= now - lost_after,
    )
    return [(event_id, attempts) for event_id, attempts in db_session.execute(query)]


# --- danger reports: the department's staff on duty are told at once ----------------------------


def on_duty(*, db_session: Session, department_id: int) -> list[StaffUser]:
    """Who is on duty for a department: its active caseworkers; when it has none (they were
    disabled since the service was loaded), the active supervisors, who see every department."""
    active = sa.select(StaffUser).where(StaffUser.active).order_by(StaffUser.email)
    workers = db_session.scalars(
        active.where(StaffUser.role == Role.CASEWORKER, StaffUser.department_id == department_id)
    ).all()
    return list(workers or db_session.scalars(active.where(StaffUser.role == Role.SUPERVISOR)))


def plan_staff_alerts(
    *, db_session: Session, case: Case, now: datetime | None = None
) -> list[StaffAlert]:
    """One pending alert per member of staff on duty for the case's department (once each)."""
    now = now or utcnow()
    if case.created_at < now - NEWS_WINDOW:
        return []  # an imported or replayed old report is history, not an emergency
    told = set(
        db_session.scalars(sa.select(StaffAlert.staff_id).where(StaffAlert.case_id == case.id))
    )
    rows = [
        StaffAlert(case_id=case.id, staff_id=user.id, created_at=now)
        for user in on_duty(db_session=db_session, department_id=case.department_id)
        if user.id not in told
    ]
    db_session.add_all(rows)
    db_session.flush()
    return rows


def alert_staff(
    *,
    db_session: Session,
    alert_id: int,
    attempt: int,
    final: bool,
    adapters: Adapters,
    city: str,
    public_url: str | None = None,
    retry_delay: float = 0.0,
    now: datetime | None = None,
) -> Outcome:
    """One attempt at telling a member of staff of a danger report, by e-mail; the caller
    commits. An alert already sent or failed is left alone."""
    row = db_session.get(StaffAlert, alert_id)
    if row is None or row.status is not DeliveryStatus.PENDING:
        return Outcome.DONE
    case = db_session.get(Case, row.case_id)
    staff = db_session.get(StaffUser, row.staff_id)
    now = now or utcnow()
    values = {
        "code": case.tracking_code,
        "service": service_name(db_session=db_session, case=case, language=staff.language),
        "city": city,
    }
    lines = [
        texts.say("staff_alert_intro", staff.language, **values),
        "",
        case.description or "",
        case.address or "",
    ]
    if public_url:
        lines += ["", f"{public_url.rstrip('/')}/office/cases/{case.id}"]
    row.attempts = attempt
    data = {"attempt": attempt, "staff": staff.email}
    try:
        adapters.email.send(
            to=staff.email,
            subject=texts.say("staff_alert_subject", staff.language, **values),
            body="\n".join(lines),
            language=staff.language,
        )
    except DeliveryError as exc:
        final = note_failure(row, exc, final=final, now=now, retry_delay=retry_delay)
        data |= {"final": final}
        _attempted(db_session, EventKind.STAFF_ALERT_FAILED, case, Channel.EMAIL.value, now, data)
        return Outcome.DONE if final else Outcome.RETRY
    note_sent(row, now=now)
    data |= {"adapter": adapters.email.name}
    _attempted(db_session, EventKind.STAFF_ALERTED, case, Channel.EMAIL.value, now, data)
    return Outcome.DONE


def due_staff_alerts(
    *, db_session: Session, now: datetime | None = None, lost_after: timedelta = timedelta(0)
) -> list[tuple[int, int]]:
    """(alert id, attempts so far) of staff alerts whose retry is due, or never tried."""
    now = now or utcnow()
    query = sa.select(StaffAlert.id, StaffAlert.attempts).where(
        StaffAlert.status == DeliveryStatus.PENDING,
        sa.or_(
            StaffAlert.next_attempt_at <= now - lost_after,
            sa.and_(
                StaffAlert.next_attempt_at.is_(None),
                StaffAlert.created_at <= now - max(lost_after, timedelta(minutes=2)),
            ),
        ),
    )
    return [(alert_id, attempts) for alert_id, attempts in db_session.execute(query)]


def inbox(*, db_session: Session, citizen_id: int, limit: int = 20) -> list[Notification]:
    """The messages a citizen reads in their account, newest first."""
    query = (
        sa.select(Notification)
        .where(
            Notification.citizen_id == citizen_id,
            Notification.channel == PORTAL,
            Notification.status == DeliveryStatus.SENT,
        )
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(db_session.scalars(query))


def sent_with(*, db_session: Session, message_ids: list[str]) -> Notification | None:
    """The e-mail notification the node sent with one of these Message-IDs, if any."""
    if not message_ids:
        return None
    return db_session.scalar(
        sa.select(Notification)
        .where(Notification.message_id.in_(message_ids))
        .order_by(Notification.id)
        .limit(1)
    )


def mark_bounced(
    *,
    db_session: Session,
    notification: Notification,
    status: str,
    diagnostic: str,
    now: datetime | None = None,
) -> None:
    """A delivery report says a message the node sent was not delivered: it counts as failed.

    The server had accepted it, so its MESSAGE_DELIVERED stays; the final MESSAGE_FAILED that
    follows is what counts it among the messages that did not reach the citizen.
    """
    now = now or utcnow()
    notification.status = DeliveryStatus.FAILED
    notification.last_error = f"bounced: {status} {diagnostic}".strip()[:500]
    record(
        db_session=db_session,
        kind=EventKind.MESSAGE_FAILED,
        actor=Actor.system(),
        case=db_session.get(Case, notification.case_id),
        channel=notification.channel,
        at=now,
        data={
            "notification": notification.id,
            "final": True,
            "permanent": not status.startswith("4"),
            "bounce": status,
        },
    )
    db_session.flush()


def claim_notifications(*, db_session: Session, from_citizen_id: int, to_citizen_id: int) -> None:
    """Messages about requests joined to an account follow them (connected to the claim hook)."""
    db_session.execute(
        sa.update(Notification)
        .where(Notification.citizen_id == from_citizen_id)
        .values(citizen_id=to_citizen_id)
    )


def forget_notifications(*, db_session: Session, citizen_id: int) -> None:
    """An erased citizen's messages lose their link and their texts (connected to erasure)."""
    cases = sa.select(Case.id).where(Case.citizen_id == citizen_id)
    db_session.execute(
        sa.update(Notification)
        .where(sa.or_(Notification.citizen_id == citizen_id, Notification.case_id.in_(cases)))
        .values(citizen_id=None, subject="", body="", last_error=None)
    )
