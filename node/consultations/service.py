"""Consultations: open one from a service's settings, take part once, count anonymously, close.

What makes a participation anonymous once it is counted: the same transaction writes a
Participation (who, on which channel: to refuse a second one) and adds one to a TallyCount (which
option: a bare counter). Nothing else written on the way names the answer: the PARTICIPATED event
carries the citizen and the channel only, no case is opened, no notification is queued, and the
replies say "your answer is counted" without repeating it.
"""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.cases.models import EventKind
from node.cases.schemas import Actor
from node.cases.service import record
from node.consultations.models import (
    Consultation,
    ConsultationStatus,
    ContactCheck,
    Participation,
    TallyCount,
)
from node.consultations.schemas import BEHAVIOUR, ENGLISH, read_settings
from node.database import utcnow
from node.errors import Conflict, Forbidden, InvalidInput
from node.messaging.adapters import Adapters, DeliveryError
from node.profiles.models import Citizen
from node.services import service as catalogue
from node.services.models import Service
from node.staff.service import hash_password, password_matches
from node.texts import Texts, read_messages

CODE_MINUTES = 15
CODE_ATTEMPTS = 5
# Verification the node can carry out itself; eid needs an identity provider it does not have.
VERIFICATIONS = ("account", "phone")


@dataclass(frozen=True)
class SmsAnswer:
    """The reply to a consultation SMS and what happened, for the inbound-message record."""

    reply: str
    outcome: str


def consultation_services(*, db_session: Session) -> list[Service]:
    """The active services whose behaviour is consultations."""
    return catalogue.active_of_behaviour(db_session=db_session, behaviour=BEHAVIOUR)


def is_consultation(service: Service) -> bool:
    """Whether a catalogue service runs as a consultation (rather than as cases)."""
    return catalogue.behaves_as(service, BEHAVIOUR)


def for_service(*, db_session: Session, service_code: str) -> Consultation | None:
    """The consultation of a service, once staff have opened it."""
    return db_session.scalar(
        sa.select(Consultation).where(Consultation.service_code == service_code)
    )


def local_day(consultation: Consultation, now: datetime) -> date:
    """The day it is in the consultation's city at `now`: the dates are that city's days."""
    return now.astimezone(ZoneInfo(consultation.timezone)).date()


def open_consultation(
    *,
    db_session: Session,
    service_code: str,
    services_dir: Path,
    timezone: str,
    actor: Actor,
    now: datetime | None = None,
) -> Consultation:
    """Open a service's consultation with the rules and texts of its settings and messages."""
    service = catalogue.get(db_session=db_session, code=service_code)
    if not is_consultation(service):
        raise InvalidInput(f"{service.name} is not a consultation service")
    if for_service(db_session=db_session, service_code=service.code) is not None:
        raise Conflict(f"the consultation of {service.name} is already open or closed")
    folder = catalogue.service_folder(services_dir=services_dir, code=service.code)
    settings = read_settings(folder)
    rules, who = settings.consultation, settings.participation
    if who.verification not in VERIFICATIONS:
        raise InvalidInput(
            f"this node cannot verify participants by {who.verification}: set verification "
            f"to {' or '.join(VERIFICATIONS)} in {folder.name}/settings.toml",
            {"verification": "not supported"},
        )
    now = now or utcnow()
    consultation = Consultation(
        service_code=service.code,
        question=rules.question,
        options=list(rules.options),
        opens_on=rules.opens_on,
        closes_on=rules.closes_on,
        verification=who.verification,
        minimum_age=who.minimum_age,
        timezone=timezone,
        texts=read_messages(folder),
        status=ConsultationStatus.OPEN,
        opened_at=now,
    )
    db_session.add(consultation)
    db_session.flush()
    db_session.add_all(
        TallyCount(consultation_id=consultation.id, option=option, count=0)
        for option in consultation.options
    )
    _record(
        db_session,
        EventKind.CONSULTATION_OPENED,
        consultation,
        actor,
        now,
        data={
            "opens_on": rules.opens_on.isoformat(),
            "closes_on": rules.closes_on.isoformat(),
            "options": list(rules.options),
        },
    )
    db_session.flush()
    return consultation


def _record(
    db_session: Session,
    kind: EventKind,
    consultation: Consultation,
    actor: Actor,
    now: datetime,
    *,
    citizen_id: int | None = None,
    channel: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Record an event of a consultation, which has no case and so names its service itself."""
    record(
        db_session=db_session,
        kind=kind,
        actor=actor,
        citizen_id=citizen_id,
        channel=channel,
        data=data,
        at=now,
        service_code=consultation.service_code,
    )


def texts_of(consultation: Consultation) -> Texts:
    """The service's texts as they were when the consultation opened."""
    return Texts.of(consultation.texts, english=ENGLISH)


def text(consultation: Consultation, language: str, key: str, **values: Any) -> str:
    """One of the service's texts in a language, by the node's one fallback rule."""
    return texts_of(consultation).say(key, language, **values)


def option_names(consultation: Consultation, language: str) -> dict[str, str]:
    """Each option's key and the name citizens read, in a language."""
    names = texts_of(consultation).names("options", language)
    return {
        option: str(names.get(option) or option.replace("-", " ").capitalize())
        for option in consultation.options
    }


CHOICE = "choice"  # the question of a consultation's service.toml (the consultation template's)


def question_in(consultation: Consultation, service: Service, language: str) -> str:
    """The consultation's question in a language: the service's [i18n] text of its question,
    where it gives one, else the question as the consultation opened with it."""
    written = catalogue.spec_of(service).question(CHOICE)
    translated = catalogue.spec_of(service, language=language).question(CHOICE)
    return translated if translated and translated != written else consultation.question


def results_on(consultation: Consultation) -> date:
    """The day results are published: the day after the consultation closes."""
    return consultation.closes_on + timedelta(days=1)


def check_open(consultation: Consultation, *, language: str, now: datetime) -> None:
    """Refuse with Conflict unless the consultation takes participations at `now`."""
    today = local_day(consultation, now)
    if consultation.status is ConsultationStatus.CLOSED or today > consultation.closes_on:
        raise Conflict(
            text(consultation, language, "closed", closes_on=consultation.closes_on.isoformat())
        )
    if today < consultation.opens_on:
        raise Conflict(f"This consultation opens on {consultation.opens_on.isoformat()}.")


def verified_contacts(*, db_session: Session, citizen: Citizen) -> set[str]:
    """Which of the citizen's current contacts (phone, email) a code has confirmed."""
    current = {"phone": citizen.phone, "email": citizen.email}
    checks = db_session.scalars(
        sa.select(ContactCheck).where(
            ContactCheck.citizen_id == citizen.id, ContactCheck.verified_at.is_not(None)
        )
    )
    return {check.kind for check in checks if current.get(check.kind) == check.contact}


def check_eligible(
    *,
    db_session: Session,
    consultation: Consultation,
    citizen: Citizen | None,
    channel: str,
    now: datetime,
) -> None:
    """Refuse with Forbidden unless the citizen is verified as the settings ask and old enough."""
    if citizen is None or citizen.erased_at is not None:
        raise Forbidden("Sign in to your account to take part.")
    by_sms = channel == Channel.SMS.value  # the gateway's signed message proves the phone
    if consultation.verification == "account":
        if not citizen.password_hash:
            raise Forbidden(
                "Only citizens with an account can take part: sign up on the portal first."
            )
        if not by_sms and not verified_contacts(db_session=db_session, citizen=citizen):
            raise Forbidden("Confirm your phone or e-mail with a code before taking part.")
    elif consultation.verification == "phone":
        if not by_sms and "phone" not in verified_contacts(db_session=db_session, citizen=citizen):
            raise Forbidden("Confirm your phone with a code, or take part by SMS from your phone.")
    else:
        raise Forbidden(f"This node cannot verify participants by {consultation.verification}.")
    if citizen.birth_year is None:
        raise Forbidden(
            f"Add your birth year to your profile: participants must be at least "
            f"{consultation.minimum_age}."
        )
    # Profiles keep the birth year only: a citizen counts as their age from 1 January of the
    # year they reach it.
    if local_day(consultation, now).year - citizen.birth_year < consultation.minimum_age:
        raise Forbidden(f"Participants must be at least {consultation.minimum_age} years old.")


def participate(
    *,
    db_session: Session,
    consultation: Consultation,
    citizen: Citizen | None,
    option: str,
    channel: str,
    language: str = "en",
    now: datetime | None = None,
) -> str:
    """Count one participation and return the thanks; a refusal raises and stores nothing."""
    option = (option or "").strip().lower()
    if option not in consultation.options:
        names = ", ".join(consultation.options)
        if not option:
            raise InvalidInput(f"Choose one of: {names}.", {"option": "required"})
        raise InvalidInput(
            f"{option!r} is not an option; choose one of: {names}.", {"option": "unknown"}
        )
    now = now or utcnow()
    check_open(consultation, language=language, now=now)
    check_eligible(
        db_session=db_session, consultation=consultation, citizen=citizen, channel=channel, now=now
    )
    assert citizen is not None  # check_eligible refused otherwise
    if has_participated(db_session=db_session, consultation=consultation, citizen=citizen):
        raise Conflict(text(consultation, language, "already"))
    try:
        # Register, count and record as one unit: a racing second participation of the same
        # citizen fails on the register's unique key and undoes only this unit.
        with db_session.begin_nested():
            db_session.add(
                Participation(
                    consultation_id=consultation.id, citizen_id=citizen.id, channel=channel
                )
            )
            db_session.flush()
            db_session.execute(
                sa.update(TallyCount)
                .where(TallyCount.consultation_id == consultation.id, TallyCount.option == option)
                .values(count=TallyCount.count + 1)
            )
            _record(
                db_session,
                EventKind.PARTICIPATED,
                consultation,
                Actor.citizen(),
                now,
                citizen_id=citizen.id,
                channel=channel,
            )
            db_session.flush()
    except IntegrityError as exc:
        raise Conflict(text(consultation, language, "already")) from exc
    return text(
        consultation,
        language,
        "participated",
        question=consultation.question,
        results_on=results_on(consultation).isoformat(),
    )


def has_participated(*, db_session: Session, consultation: Consultation, citizen: Citizen) -> bool:
    """Whether the citizen has already taken part."""
    return (
        db_session.scalar(
            sa.select(Participation.id).where(
                Participation.consultation_id == consultation.id,
                Participation.citizen_id == citizen.id,
            )
        )
        is not None
    )


def totals(*, db_session: Session, consultation: Consultation) -> dict[str, int]:
    """The count of every option, in the order of the options."""
    counts = dict(
        db_session.execute(
            sa.select(TallyCount.option, TallyCount.count).where(
                TallyCount.consultation_id == consultation.id
            )
        ).all()
    )
    return {option: counts.get(option, 0) for option in consultation.options}


def published_results(*, db_session: Session, consultation: Consultation) -> dict[str, int] | None:
    """The totals once the consultation is closed; None while it is not, so nobody sees them."""
    if consultation.status is not ConsultationStatus.CLOSED:
        return None
    return totals(db_session=db_session, consultation=consultation)


def close_consultation(
    *, db_session: Session, consultation: Consultation, actor: Actor, now: datetime | None = None
) -> Consultation:
    """Close a consultation after its last day and publish the totals in the archive."""
    now = now or utcnow()
    if consultation.status is ConsultationStatus.CLOSED:
        raise Conflict("this consultation is already closed")
    if local_day(consultation, now) <= consultation.closes_on:
        raise Conflict(
            f"this consultation runs until {consultation.closes_on.isoformat()}; "
            "it can be closed from the day after"
        )
    consultation.status = ConsultationStatus.CLOSED
    consultation.closed_at = now
    counts = totals(db_session=db_session, consultation=consultation)
    _record(
        db_session,
        EventKind.CONSULTATION_CLOSED,
        consultation,
        actor,
        now,
        data={"totals": counts, "participations": sum(counts.values())},
    )
    db_session.flush()
    return consultation


def close_due(*, db_session: Session, now: datetime | None = None) -> list[int]:
    """Close every open consultation whose last day has passed; the ids it closed."""
    now = now or utcnow()
    closed = []
    for consultation in db_session.scalars(
        sa.select(Consultation).where(Consultation.status == ConsultationStatus.OPEN)
    ):
        if local_day(consultation, now) > consultation.closes_on:
            close_consultation(
                db_session=db_session, consultation=consultation, actor=Actor.system(), now=now
            )
            closed.append(consultation.id)
    return closed


def answer_sms(
    *,
    db_session: Session,
    service: Service,
    citizen: Citizen | None,
    text_after_keyword: str,
    language: str,
    now: datetime | None = None,
) -> SmsAnswer:
    """Act on `<KEYWORD> <option>` from a phone: count it, or say clearly why not."""
    consultation = for_service(db_session=db_session, service_code=service.code)
    keyword = service.sms_keyword or ""
    if consultation is None:
        return SmsAnswer(f"{service.name} has not opened yet.", "not_open")
    words = text_after_keyword.split()
    if len(words) != 1:
        help_text = text(consultation, language, "sms_help", keyword=keyword)
        return SmsAnswer(f"{help_text} Options: {', '.join(consultation.options)}.", "needs_option")
    if citizen is None:
        return SmsAnswer(
            "We do not know this phone: add it to your account on the portal, with your "
            "birth year, then send your answer again.",
            "refused",
        )
    try:
        reply = participate(
            db_session=db_session,
            consultation=consultation,
            citizen=citizen,
            option=words[0],
            channel=Channel.SMS.value,
            language=language,
            now=now,
        )
    except (InvalidInput, Forbidden, Conflict) as exc:
        return SmsAnswer(str(exc), "refused")
    return SmsAnswer(reply, "participated")


def send_contact_code(
    *,
    db_session: Session,
    citizen: Citizen,
    kind: str,
    adapters: Adapters,
    city: str,
    now: datetime | None = None,
) -> ContactCheck:
    """Send a one-time code to the citizen's phone or e-mail, to confirm it is theirs."""
    contact = {"phone": citizen.phone, "email": citizen.email}.get(kind)
    if kind not in ("phone", "email"):
        raise InvalidInput("choose phone or email", {"kind": "unknown"})
    if not contact:
        raise InvalidInput(f"your profile has no {kind}: add one first", {"kind": "missing"})
    now = now or utcnow()
    code = f"{secrets.randbelow(10**6):06d}"
    check = ContactCheck(
        citizen_id=citizen.id,
        kind=kind,
        contact=contact,
        code_hash=hash_password(code),
        created_at=now,
        expires_at=now + timedelta(minutes=CODE_MINUTES),
    )
    db_session.add(check)
    db_session.flush()
    body = f"{city}: your confirmation code is {code}. It is valid for {CODE_MINUTES} minutes."
    try:
        if kind == "phone":
            adapters.sms.send(to=contact, body=body)
        else:
            adapters.email.send(
                to=contact, subject=f"{city}: your code", body=body, language=citizen.language
            )
    except DeliveryError as exc:
        raise Conflict(f"the code could not be sent: {exc}") from exc
    return check


def confirm_contact_code(
    *, db_session: Session, citizen: Citizen, code: str, now: datetime | None = None
) -> ContactCheck:
    """Confirm a contact with the latest code sent to it; a wrong code counts as an attempt."""
    now = now or utcnow()
    check = db_session.scalar(
        sa.select(ContactCheck)
        .where(ContactCheck.citizen_id == citizen.id, ContactCheck.verified_at.is_(None))
        .order_by(ContactCheck.id.desc())
    )
    if check is None or check.expires_at < now or check.attempts >= CODE_ATTEMPTS:
        raise Conflict("no code is waiting: ask for a new one")
    check.attempts += 1
    if not password_matches(check.code_hash, (code or "").strip()):
        db_session.flush()
        raise InvalidInput("that code is not the one we sent", {"code": "wrong code"})
    check.verified_at = now
    db_session.flush()
    return check


def forget_contact_checks(*, db_session: Session, citizen_id: int) -> None:
    """Delete the codes sent to confirm a citizen's contacts: each keeps the contact it checked."""
    db_session.execute(sa.delete(ContactCheck).where(ContactCheck.citizen_id == citizen_id))
