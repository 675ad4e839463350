"""Slots and bookings: publish, book, move, cancel, remind, and record attendance.

Every step appends an archive event with the service code, the channel and the citizen, so the
federation snapshots count bookings like any other activity. Functions flush, callers commit.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.bookings.models import Booking, BookingStatus, Reminder, Slot
from node.bookings.schemas import BEHAVIOUR, OUTCOMES, BookingSettings
from node.cases.models import Event, EventKind
from node.cases.schemas import Actor
from node.cases.service import record
from node.database import utcnow
from node.errors import Conflict, InvalidInput, NotFound
from node.messaging import service as messaging
from node.messaging.adapters import Adapters, DeliveryError
from node.messaging.models import DeliveryStatus
from node.profiles.models import Citizen
from node.services.models import Service
from node.services.service import active_of_behaviour, behaves_as, get_of_behaviour

REFERENCE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on the phone


@dataclass(frozen=True)
class FreeTime:
    """A start time at an office with at least one desk free."""

    office: str
    starts_at: datetime
    free: int


def _record_booking(
    db_session: Session,
    booking: Booking,
    *,
    kind: EventKind,
    actor: Actor,
    channel: str | None,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> Event:
    """Record an event of one booking, naming its service, its citizen and the booking."""
    return record(
        db_session=db_session,
        kind=kind,
        service_code=booking.service_code,
        actor=actor,
        channel=channel,
        citizen_id=booking.citizen_id,
        at=at,
        data={"booking": booking.id} | (data or {}),
    )


def booking_services(*, db_session: Session) -> list[Service]:
    """The active services whose behaviour is bookings, by code."""
    found = active_of_behaviour(db_session=db_session, behaviour=BEHAVIOUR)
    return sorted(found, key=lambda service: service.code)


def get_service(*, db_session: Session, service_code: str) -> Service:
    """An active booking service by its code."""
    return get_of_behaviour(db_session=db_session, code=service_code, behaviour=BEHAVIOUR)


def purposes_of(service: Service) -> list[str]:
    """The purposes an appointment of this service can be for, in the spec's order."""
    for attribute in service.spec.get("attributes", []):
        if attribute.get("code") == "purpose":
            return [str(v["key"]) for v in attribute.get("values") or []]
    return []


def generate_slots(
    *,
    db_session: Session,
    service_code: str,
    settings: BookingSettings,
    actor: Actor,
    now: datetime | None = None,
) -> int:
    """Publish every office's slots from today to the horizon; existing slots are kept.

    Returns how many slots are new; running it again the same day publishes nothing.
    """
    now = now or utcnow()
    today = settings.local(now).date()
    last = today + timedelta(days=settings.horizon_days)
    wanted: list[tuple[str, datetime, datetime, int]] = []
    day = today
    while day <= last:
        if day.weekday() in settings.weekdays:
            start = datetime.combine(day, settings.opens, tzinfo=settings.timezone)
            closes = datetime.combine(day, settings.closes, tzinfo=settings.timezone)
            step = timedelta(minutes=settings.minutes)
            while start + step <= closes:
                for office in settings.offices:
                    for desk in range(1, settings.desks + 1):
                        wanted.append(
                            (
                                office.key,
                                start.astimezone(UTC),
                                (start + step).astimezone(UTC),
                                desk,
                            )
                        )
                start += step
        day += timedelta(days=1)
    if not wanted:
        return 0
    existing = set(
        db_session.execute(
            sa.select(Slot.office, Slot.starts_at, Slot.desk).where(
                Slot.service_code == service_code,
                Slot.starts_at >= wanted[0][1],
                Slot.starts_at <= wanted[-1][1],
            )
        )
    )
    new = [w for w in wanted if (w[0], w[1], w[3]) not in existing and w[1] > now]
    db_session.add_all(
        Slot(
            service_code=service_code,
            office=office,
            starts_at=starts,
            ends_at=ends,
            desk=desk,
            created_at=now,
        )
        for office, starts, ends, desk in new
    )
    if new:
        record(
            db_session=db_session,
            kind=EventKind.SLOTS_PUBLISHED,
            service_code=service_code,
            actor=actor,
            at=now,
            data={"slots": len(new), "from": today.isoformat(), "to": last.isoformat()},
        )
    db_session.flush()
    return len(new)


def _taken() -> sa.Select[tuple[int]]:
    return sa.select(Booking.slot_id).where(Booking.slot_id.is_not(None))


def free_times(
    *,
    db_session: Session,
    service_code: str,
    settings: BookingSettings,
    office: str | None = None,
    day: date | None = None,
    now: datetime | None = None,
) -> list[FreeTime]:
    """Start times with a free desk, from now to the horizon, per office, earliest first."""
    now = now or utcnow()
    query = (
        sa.select(Slot.office, Slot.starts_at, sa.func.count(Slot.id))
        .where(
            Slot.service_code == service_code,
            Slot.starts_at > now,
            Slot.starts_at <= now + timedelta(days=settings.horizon_days + 1),
            Slot.id.not_in(_taken()),
        )
        .group_by(Slot.office, Slot.starts_at)
        .order_by(Slot.starts_at, Slot.office)
    )
    if office:
        query = query.where(Slot.office == office)
    if day is not None:
        start = datetime.combine(day, datetime.min.time(), tzinfo=settings.timezone)
        query = query.where(Slot.starts_at >= start, Slot.starts_at < start + timedelta(days=1))
    return [FreeTime(o, s, n) for o, s, n in db_session.execute(query)]


def local_moment(*, settings: BookingSettings, day: str, clock: str) -> datetime:
    """A local date (YYYY-MM-DD) and time (HH:MM) as a UTC moment; InvalidInput otherwise."""
    try:
        when = date.fromisoformat(day.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"{day!r} is not a date like 2026-12-03", {"date": "a date like 2026-12-03"}
        ) from exc
    try:
        at = datetime.strptime(clock.strip().replace(".", ":"), "%H:%M").time()
    except ValueError as exc:
        raise InvalidInput(f"{clock!r} is not a time like 09:20", {"time": "like 09:20"}) from exc
    return datetime.combine(when, at, tzinfo=settings.timezone).astimezone(UTC)


def _office(settings: BookingSettings, key: str | None) -> str:
    office = settings.office(key or settings.default_office)
    if office is None:
        known = ", ".join(o.key for o in settings.offices)
        raise InvalidInput(f"no office {key!r}; offices: {known}", {"office": "unknown office"})
    return office.key


def _bookable(settings: BookingSettings, starts_at: datetime, now: datetime) -> None:
    if starts_at <= now:
        raise InvalidInput("that time has passed; choose a later slot", {"time": "in the past"})
    if starts_at > now + timedelta(days=settings.horizon_days + 1):
        raise InvalidInput(
            f"bookings open {settings.horizon_days} days ahead; choose an earlier day",
            {"date": "beyond the booking horizon"},
        )


def check_free(
    *,
    db_session: Session,
    service_code: str,
    settings: BookingSettings,
    office: str,
    starts_at: datetime,
) -> None:
    """Raise InvalidInput when no slot starts then at the office, Conflict when all are taken."""
    desks = set(
        db_session.scalars(
            sa.select(Slot.id).where(
                Slot.service_code == service_code,
                Slot.office == office,
                Slot.starts_at == starts_at,
            )
        )
    )
    local = settings.local(starts_at)
    if not desks:
        raise InvalidInput(
            f"{office} has no slot on {local:%Y-%m-%d} at {local:%H:%M}; choose a listed time",
            {"time": "not a published slot"},
        )
    if desks <= set(db_session.scalars(_taken().where(Booking.slot_id.in_(desks)))):
        raise Conflict(
            f"the slot on {local:%Y-%m-%d} at {local:%H:%M} at {office} is already booked; "
            "choose another time"
        )


def _take_slot(
    db_session: Session, booking: Booking, settings: BookingSettings, office: str, at: datetime
) -> None:
    """Give the booking the first free desk at that office and time, or raise Conflict."""
    desks = list(
        db_session.scalars(
            sa.select(Slot)
            .where(
                Slot.service_code == booking.service_code,
                Slot.office == office,
                Slot.starts_at == at,
            )
            .order_by(Slot.desk)
        )
    )
    if not desks:
        local = settings.local(at)
        raise InvalidInput(
            f"{office} has no slot on {local:%Y-%m-%d} at {local:%H:%M}; choose a listed time",
            {"time": "not a published slot"},
        )
    taken = set(db_session.scalars(_taken().where(Booking.slot_id.in_([d.id for d in desks]))))
    for desk in desks:
        if desk.id in taken:
            continue
        try:
            # The unique slot_id decides between two citizens racing for the last desk.
            with db_session.begin_nested():
                booking.slot_id = desk.id
                db_session.flush()
        except IntegrityError:
            continue
        booking.office, booking.starts_at = office, at
        return
    local = settings.local(at)
    raise Conflict(
        f"the slot on {local:%Y-%m-%d} at {local:%H:%M} at {office} is already booked; "
        "choose another time"
    )


def _reference(db_session: Session) -> str:
    while True:
        code = "BK" + "".join(secrets.choice(REFERENCE_LETTERS) for _ in range(6))
        if db_session.scalar(sa.select(Booking.id).where(Booking.reference == code)) is None:
            return code


def book(
    *,
    db_session: Session,
    service: Service,
    settings: BookingSettings,
    citizen: Citizen | None,
    office: str | None,
    starts_at: datetime,
    purpose: str | None,
    channel: str,
    actor: Actor,
    now: datetime | None = None,
) -> Booking:
    """Book the first free desk at an office and time for a citizen."""
    now = now or utcnow()
    office_key = _office(settings, office)
    purposes = purposes_of(service)
    purpose = (purpose or "").strip() or (purposes[-1] if purposes else "other")
    if purposes and purpose not in purposes:
        raise InvalidInput(
            f"no purpose {purpose!r}; purposes: {', '.join(purposes)}",
            {"purpose": "unknown purpose"},
        )
    if citizen is None:
        raise InvalidInput(
            "sign in, or give an e-mail address or a phone number for the confirmation",
            {"contact": "required"},
        )
    _bookable(settings, starts_at, now)
    booking = Booking(
        reference=_reference(db_session),
        service_code=service.code,
        citizen_id=citizen.id,
        office=office_key,
        starts_at=starts_at,
        purpose=purpose,
        channel=channel,
        status=BookingStatus.BOOKED,
        created_at=now,
        updated_at=now,
    )
    db_session.add(booking)
    db_session.flush()  # the booking exists without a slot, so a lost race undoes only the slot
    try:
        _take_slot(db_session, booking, settings, office_key, starts_at)
    except (Conflict, InvalidInput):
        db_session.delete(booking)
        db_session.flush()
        raise
    record(
        db_session=db_session,
        kind=EventKind.BOOKED,
        service_code=service.code,
        actor=actor,
        channel=channel,
        citizen_id=citizen.id,
        at=now,
        data={"booking": booking.id, "office": office_key, "purpose": purpose},
    )
    db_session.flush()
    return booking


def get_booking(*, db_session: Session, reference: str, citizen_id: int | None = None) -> Booking:
    """A booking by its reference (of this citizen, when one is given)."""
    booking = db_session.scalar(
        sa.select(Booking).where(Booking.reference == reference.strip().upper())
    )
    if booking is None or (citizen_id is not None and booking.citizen_id != citizen_id):
        raise NotFound(f"no booking {reference.strip().upper()}")
    return booking


def _changeable(booking: Booking, settings: BookingSettings, now: datetime) -> None:
    if booking.status is not BookingStatus.BOOKED:
        raise Conflict(f"booking {booking.reference} is {booking.status.value.replace('_', ' ')}")
    cut_off = booking.starts_at - timedelta(hours=settings.change_until_hours)
    if now > cut_off:
        raise Conflict(
            f"booking {booking.reference} can no longer be changed: changes close "
            f"{settings.change_until_hours} hours before the appointment"
        )


def move(
    *,
    db_session: Session,
    booking: Booking,
    settings: BookingSettings,
    starts_at: datetime,
    office: str | None = None,
    channel: str,
    actor: Actor,
    now: datetime | None = None,
) -> Booking:
    """Move a booking to another free time (and office) before the change cut-off."""
    now = now or utcnow()
    _changeable(booking, settings, now)
    office_key = _office(settings, office or booking.office)
    _bookable(settings, starts_at, now)
    before = (booking.office, booking.starts_at)
    _take_slot(db_session, booking, settings, office_key, starts_at)
    booking.updated_at = now
    _record_booking(
        db_session,
        booking,
        kind=EventKind.BOOKING_MOVED,
        actor=actor,
        channel=channel,
        at=now,
        data={
            "from": {"office": before[0], "at": before[1].isoformat()},
            "to": {"office": office_key, "at": starts_at.isoformat()},
        },
    )
    db_session.flush()
    return booking


def cancel(
    *,
    db_session: Session,
    booking: Booking,
    settings: BookingSettings,
    channel: str,
    actor: Actor,
    now: datetime | None = None,
) -> Booking:
    """Cancel a booking before the change cut-off; its slot is free again."""
    now = now or utcnow()
    _changeable(booking, settings, now)
    booking.slot_id = None
    booking.status = BookingStatus.CANCELLED
    booking.updated_at = now
    _record_booking(
        db_session,
        booking,
        kind=EventKind.BOOKING_CANCELLED,
        actor=actor,
        channel=channel,
        at=now,
    )
    db_session.flush()
    return booking


def day_list(
    *, db_session: Session, service_code: str, settings: BookingSettings, office: str, day: date
) -> list[Booking]:
    """An office's bookings of one local day, by time: what the counter works through."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=settings.timezone)
    return list(
        db_session.scalars(
            sa.select(Booking)
            .where(
                Booking.service_code == service_code,
                Booking.office == office,
                Booking.starts_at >= start,
                Booking.starts_at < start + timedelta(days=1),
                Booking.status != BookingStatus.CANCELLED,
            )
            .order_by(Booking.starts_at, Booking.id)
        )
    )


def record_attendance(
    *,
    db_session: Session,
    booking: Booking,
    outcome: str,
    actor: Actor,
    now: datetime | None = None,
) -> Booking:
    """Record that the citizen came (attended) or did not (no_show), once the slot has begun."""
    now = now or utcnow()
    if outcome not in OUTCOMES:
        raise InvalidInput(
            f"outcome is one of {', '.join(OUTCOMES)}, not {outcome!r}", {"outcome": "unknown"}
        )
    if booking.status is not BookingStatus.BOOKED:
        raise Conflict(f"booking {booking.reference} is {booking.status.value.replace('_', ' ')}")
    if now < booking.starts_at:
        raise Conflict(f"booking {booking.reference} has not started yet")
    booking.status = BookingStatus(outcome)
    booking.updated_at = now
    _record_booking(
        db_session,
        booking,
        kind=EventKind.ATTENDED if outcome == "attended" else EventKind.NO_SHOW,
        actor=actor,
        channel=Channel.COUNTER.value,
        at=now,
    )
    db_session.flush()
    return booking


def due_reminders(
    *,
    db_session: Session,
    service_code: str,
    settings: BookingSettings,
    now: datetime | None = None,
) -> list[int]:
    """Ids of bookings whose reminder is due and that have no reminder row yet."""
    now = now or utcnow()
    query = (
        sa.select(Booking.id)
        .where(
            Booking.service_code == service_code,
            Booking.status == BookingStatus.BOOKED,
            Booking.starts_at > now,
            Booking.starts_at <= now + timedelta(hours=settings.reminder_hours),
            Booking.id.not_in(sa.select(Reminder.booking_id)),
        )
        .order_by(Booking.starts_at)
    )
    return list(db_session.scalars(query))


def due_reminder_retries(
    *, db_session: Session, now: datetime | None = None, lost_after: timedelta = timedelta(0)
) -> list[tuple[int, str, int]]:
    """(booking id, service code, attempts so far) of failed reminders whose retry is due."""
    now = now or utcnow()
    query = (
        sa.select(Booking.id, Booking.service_code, Reminder.attempts)
        .join(Reminder, Reminder.booking_id == Booking.id)
        .where(
            Reminder.status == DeliveryStatus.PENDING,
            Reminder.next_attempt_at <= now - lost_after,
        )
    )
    return [tuple(row) for row in db_session.execute(query)]


def describe(booking: Booking, settings: BookingSettings) -> dict[str, str]:
    """The values a booking text fills in: reference, local date and time, office name."""
    local = settings.local(booking.starts_at)
    office = settings.office(booking.office)
    return {
        "reference": booking.reference,
        "date": local.strftime("%Y-%m-%d"),
        "time": local.strftime("%H:%M"),
        "office": office.name if office else booking.office,
    }


def send_reminder(
    *,
    db_session: Session,
    booking_id: int,
    settings: BookingSettings,
    adapters: Adapters,
    attempt: int,
    final: bool,
    retry_delay: float = 0.0,
    now: datetime | None = None,
) -> messaging.Outcome:
    """Make one attempt at a booking's reminder; a reminder sent, failed or skipped is left
    alone, so a task run twice never reminds twice; a failure to retry records when, in
    `retry_delay` seconds. The caller commits."""
    now = now or utcnow()
    booking = db_session.get(Booking, booking_id)
    if booking is None or booking.status is not BookingStatus.BOOKED or booking.starts_at <= now:
        return messaging.Outcome.DONE
    row = db_session.scalar(sa.select(Reminder).where(Reminder.booking_id == booking_id))
    if row is not None and row.status is not DeliveryStatus.PENDING:
        return messaging.Outcome.DONE
    citizen = booking.citizen
    plan = messaging.plan_channel(citizen)  # consent, STOP and missing contacts honoured
    if row is None:
        row = Reminder(booking_id=booking_id, channel=plan.channel, created_at=now)
        db_session.add(row)
        try:
            db_session.flush()
        except IntegrityError:
            # Another worker claimed this reminder; the row is this session's first write, so
            # rolling back loses nothing of ours.
            db_session.rollback()
            return messaging.Outcome.DONE
    row.channel = plan.channel
    if plan.skip_reason:
        row.status, row.skip_reason = DeliveryStatus.SKIPPED, plan.skip_reason
        db_session.flush()
        return messaging.Outcome.DONE
    language = citizen.language if citizen else None
    row.body = settings.say("reminder", language, **describe(booking, settings))
    row.attempts = attempt
    data: dict[str, Any] = {"attempt": attempt}
    try:
        if row.channel == Channel.EMAIL.value:
            subject = settings.say("reminder", language, **describe(booking, settings))
            adapters.email.send(
                to=citizen.email, subject=subject[:120], body=row.body, language=language or "en"
            )
            data["adapter"] = adapters.email.name
        elif row.channel == Channel.SMS.value:
            adapters.sms.send(to=citizen.phone, body=row.body)
            data["adapter"] = adapters.sms.name
        else:
            data["adapter"] = messaging.PORTAL  # the row is the message in the citizen's account
    except DeliveryError as exc:
        final = messaging.note_failure(row, exc, final=final, now=now, retry_delay=retry_delay)
        _record_booking(
            db_session,
            booking,
            kind=EventKind.REMINDER_FAILED,
            actor=Actor.system(),
            channel=row.channel,
            at=now,
            data=data | {"final": final, "permanent": exc.permanent},
        )
        db_session.flush()
        return messaging.Outcome.DONE if final else messaging.Outcome.RETRY
    messaging.note_sent(row, now=now)
    _record_booking(
        db_session,
        booking,
        kind=EventKind.REMINDER_DELIVERED,
        actor=Actor.system(),
        channel=row.channel,
        at=now,
        data=data,
    )
    db_session.flush()
    return messaging.Outcome.DONE


def bookings_of(*, db_session: Session, citizen_id: int) -> list[Booking]:
    """A citizen's bookings, latest appointment first."""
    return list(
        db_session.scalars(
            sa.select(Booking)
            .where(Booking.citizen_id == citizen_id)
            .order_by(Booking.starts_at.desc())
        )
    )


def reminders_of(*, db_session: Session, citizen_id: int) -> list[Reminder]:
    """The reminders a citizen reads in their account (portal channel), newest first."""
    return list(
        db_session.scalars(
            sa.select(Reminder)
            .join(Booking, Booking.id == Reminder.booking_id)
            .where(
                Booking.citizen_id == citizen_id,
                Reminder.channel == messaging.PORTAL,
                Reminder.status == DeliveryStatus.SENT,
            )
            .order_by(Reminder.id.desc())
        )
    )


CANCEL_WORDS = frozenset({"CANCEL", "CANCELLA", "TYHISTA", "STORNO", "ANNULER", "ANNULLA"})
MOVE_WORDS = frozenset({"MOVE", "SPOSTA", "MUUDA", "VERSCHIEBEN", "DEPLACER"})
SMS_HELP = (
    "To book send {keyword} DATE TIME, e.g. {keyword} {example}; to move "
    "{keyword} MOVE REFERENCE DATE TIME; to cancel {keyword} CANCEL REFERENCE."
)


def _sms_date(word: str, today: date) -> str:
    """A date as typed in an SMS (2026-12-03, 03/12/2026, 3/12, 3.12) in ISO form."""
    parts = word.replace(".", "/").split("/")
    if len(parts) in (2, 3) and all(p.isdigit() for p in parts):
        day, month = int(parts[0]), int(parts[1])
        year = int(parts[2]) if len(parts) == 3 else today.year
        try:
            when = date(year, month, day)
        except ValueError:
            return word
        if len(parts) == 2 and when < today:
            when = when.replace(year=today.year + 1)
        return when.isoformat()
    return word


def answer_sms(
    *,
    db_session: Session,
    service: Service,
    settings: BookingSettings,
    text: str,
    citizen: Citizen | None,
    citizen_of: Callable[[], Citizen],
    now: datetime | None = None,
) -> tuple[str, str]:
    """Act on the words after a booking service's keyword; returns the reply and the outcome.

    `DATE TIME [office|purpose ...]` books the first free desk, `MOVE REF DATE TIME` moves and
    `CANCEL REF` cancels; anything else gets the help. A refusal says why and stores nothing.
    `citizen` is the sender's profile if there is one; `citizen_of` makes one for a booking.
    """
    now = now or utcnow()
    keyword = service.sms_keyword or ""
    today = settings.local(now).date()
    example = f"{(today + timedelta(days=1)).isoformat()} {settings.opens:%H:%M}"
    help_text = SMS_HELP.format(keyword=keyword, example=example)
    words = text.split()
    first = words[0].upper() if words else ""
    language = citizen.language if citizen else settings.default_language
    owner = citizen.id if citizen else -1  # an unknown number has no bookings to change
    # What every change made by SMS shares: the sender acts, on this service's rules, now.
    by_sms = {
        "db_session": db_session,
        "settings": settings,
        "channel": Channel.SMS.value,
        "actor": Actor.citizen(),
        "now": now,
    }
    try:
        if first in CANCEL_WORDS and len(words) == 2:
            booking = get_booking(db_session=db_session, reference=words[1], citizen_id=owner)
            cancel(booking=booking, **by_sms)
            return settings.say("cancelled", language, **describe(booking, settings)), "cancelled"
        if first in MOVE_WORDS and len(words) in (4, 5):
            booking = get_booking(db_session=db_session, reference=words[1], citizen_id=owner)
            at = local_moment(settings=settings, day=_sms_date(words[2], today), clock=words[3])
            office = words[4] if len(words) == 5 else None
            move(booking=booking, starts_at=at, office=office, **by_sms)
            return settings.say("moved", language, **describe(booking, settings)), "moved"
        if len(words) >= 2 and words[0][:1].isdigit():
            at = local_moment(settings=settings, day=_sms_date(words[0], today), clock=words[1])
            office, purpose = None, None
            for word in words[2:]:
                if settings.office(word):
                    office = word
                elif word.lower() in purposes_of(service):
                    purpose = word.lower()
                else:
                    raise InvalidInput(f"{word!r} is neither an office nor a purpose")
            # Checked before a new sender gets a profile, so a refusal stores nothing.
            _bookable(settings, at, now)
            check_free(
                db_session=db_session,
                service_code=service.code,
                settings=settings,
                office=_office(settings, office),
                starts_at=at,
            )
            booking = book(
                service=service,
                citizen=citizen or citizen_of(),
                office=office,
                starts_at=at,
                purpose=purpose,
                **by_sms,
            )
            return settings.say("booked", language, **describe(booking, settings)), "booked"
    except (InvalidInput, Conflict, NotFound) as exc:
        return f"Not done: {exc}. {help_text}", "refused"
    return help_text, "help"


def is_booking_service(service: Service) -> bool:
    """Whether the service books slots (its behaviour is bookings)."""
    return behaves_as(service, BEHAVIOUR)
