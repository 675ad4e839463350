"""The SMS grammar: `<KEYWORD> <text>` opens a case, `STATUS <code>` answers its status,
`STOP` / `START` opt out of and back into SMS; anything else gets a short help."""

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.behaviours import behaviour_of
from node.cases.models import Case, EventKind
from node.cases.schemas import Actor
from node.cases.service import get_by_code, record
from node.database import utcnow
from node.errors import InvalidInput, NotFound
from node.intake import service as intake
from node.intake.free_text import answers_from_text
from node.messaging import texts
from node.messaging.models import InboundMessage
from node.plugins import SmsRequest
from node.profiles import service as profiles
from node.profiles.models import Citizen
from node.profiles.schemas import normalise_phone
from node.services import service as catalogue
from node.services.models import Service

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP"})
STATUS_WORDS = frozenset({"STATUS", "STATO"})
SMS = Channel.SMS.value


@dataclass(frozen=True)
class Command:
    """What an SMS asks for: stop, start, status, open (with keyword and text) or help."""

    kind: str
    word: str = ""
    text: str = ""


@dataclass
class SmsResult:
    """The reply to send back, and the case the message opened, if any."""

    reply: str
    outcome: str
    case: Case | None = None


def parse_command(body: str) -> Command:
    """Read the command of a message; the first word decides, in any case of letters."""
    words = (body or "").strip().split(maxsplit=1)
    if not words:
        return Command("help")
    word = re.sub(r"[^\w]", "", words[0]).upper()
    rest = words[1].strip() if len(words) > 1 else ""
    if word in STOP_WORDS:
        return Command("stop", word)
    if word in START_WORDS:
        return Command("start", word)
    if word in STATUS_WORDS:
        return Command("status", word, rest.split()[0] if rest else "")
    if word in ("HELP", "INFO", "AIUTO"):
        return Command("help", word)
    return Command("open", word, rest)


def _keywords(db_session: Session) -> list[Service]:
    return [
        service
        for service in catalogue.list_active(db_session=db_session)
        if service.sms_keyword and SMS in service.channels
    ]


def _help(db_session: Session, language: str, city: str) -> str:
    keywords = ", ".join(f"{s.sms_keyword} ({s.name})" for s in _keywords(db_session))
    if not keywords:
        return texts.say("sms_help_no_keywords", language, city=city)
    return texts.say("sms_help", language, city=city, keywords=keywords)


def _set_opt_out(db_session: Session, citizen: Citizen, opt_out: bool, now: datetime) -> None:
    if citizen.sms_opt_out == opt_out:
        return
    citizen.sms_opt_out = opt_out
    citizen.updated_at = now
    record(
        db_session=db_session,
        kind=EventKind.CONSENT_CHANGED,
        actor=Actor.citizen(),
        citizen_id=citizen.id,
        channel=SMS,
        at=now,
        data={"sms_opt_out": opt_out},
    )


def stored_reply(*, db_session: Session, message_sid: str) -> SmsResult | None:
    """The reply already given to a message, when the gateway sends it again."""
    seen = db_session.scalar(
        sa.select(InboundMessage).where(
            InboundMessage.channel == SMS, InboundMessage.external_id == message_sid
        )
    )
    if seen is None:
        return None
    return SmsResult(seen.reply or "", "duplicate")


def handle_message(
    *,
    db_session: Session,
    sender: str,
    body: str,
    message_sid: str,
    city: str,
    default_language: str,
    default_region: str | None = None,
    tracking_prefix: str = "CA",
    now: datetime | None = None,
    services_dir: Path,
    timezone: str = "UTC",
) -> SmsResult:
    """Act on one inbound SMS once; a MessageSid seen before gets the same reply, nothing more."""
    if "\x00" in message_sid:
        raise InvalidInput("MessageSid holds a NUL character", {"MessageSid": "not an id"})
    # PostgreSQL text cannot hold U+0000, and it carries nothing the citizen meant to say.
    body = (body or "").replace("\x00", "")
    seen = stored_reply(db_session=db_session, message_sid=message_sid)
    if seen is not None:
        return seen
    try:
        phone = normalise_phone(sender, default_region)
    except ValueError as exc:
        raise InvalidInput(str(exc), {"From": "not a phone number"}) from exc
    now = now or utcnow()
    citizen = profiles.find_by_contact(db_session=db_session, phone=phone)
    language = citizen.language if citizen else default_language

    def profile() -> Citizen:
        return citizen or profiles.contact_profile(
            db_session=db_session,
            email=None,
            phone=phone,
            language=default_language,
            default_region=default_region,
            channel=SMS,
            now=now,
        )

    command = parse_command(body)
    result = SmsResult("", command.kind)
    if command.kind == "stop":
        _set_opt_out(db_session, profile(), True, now)
        result.reply = texts.say("sms_stop", language, city=city)
    elif command.kind == "start":
        _set_opt_out(db_session, profile(), False, now)
        result.reply = texts.say("sms_start", language, city=city)
    elif command.kind == "status" and command.text:
        result.reply = _status(db_session, command.text, language, city)
    elif (
        command.kind == "open"
        and (service := catalogue.by_sms_keyword(db_session=db_session, keyword=command.word))
        and (behaviour := behaviour_of(catalogue.spec_of(service))).answer_sms is not None
    ):
        # The service's behaviour reads what follows its keyword (node/behaviours.py).
        reply, outcome = behaviour.answer_sms(
            SmsRequest(
                db_session=db_session,
                service=service,
                text=command.text,
                citizen=citizen,
                citizen_of=profile,
                language=language,
                city=city,
                now=now,
                services_dir=services_dir,
                timezone=timezone,
                read_settings=behaviour.read_settings,
            )
        )
        result = SmsResult(reply, outcome)
    elif command.kind == "open" and (
        service := catalogue.by_sms_keyword(db_session=db_session, keyword=command.word)
    ):
        result = _open(
            db_session,
            service=service,
            command=command,
            citizen_of=profile,
            language=language,
            city=city,
            tracking_prefix=tracking_prefix,
            now=now,
        )
    else:
        result = SmsResult(_help(db_session, language, city), "help")
    db_session.add(
        InboundMessage(
            channel=SMS,
            external_id=message_sid,
            case_id=result.case.id if result.case else None,
            outcome=result.outcome,
            reply=result.reply,
            received_at=now,
        )
    )
    db_session.flush()
    return result


def _status(db_session: Session, code: str, language: str, city: str) -> str:
    try:
        case = get_by_code(db_session=db_session, code=code)
    except NotFound:
        return texts.say("sms_unknown_code", language, city=city, code=code.upper())
    name = db_session.scalar(sa.select(Service.name).where(Service.code == case.service_code))
    return texts.say(
        "sms_status",
        language,
        code=case.tracking_code,
        service=name or case.service_code,
        status=texts.status_word(case.status.value, language),
        updated=case.updated_at.date().isoformat(),
    )


def _open(
    db_session: Session,
    *,
    service: Service,
    command: Command,
    citizen_of,
    language: str,
    city: str,
    tracking_prefix: str,
    now: datetime,
) -> SmsResult:
    if not command.text:
        reply = texts.say("sms_needs_text", language, city=city, keyword=service.sms_keyword)
        return SmsResult(reply, "needs_text")
    spec = catalogue.spec_of(service)
    try:
        answers = answers_from_text(spec, command.text)
        citizen = citizen_of()
        case = intake.submit(
            db_session=db_session,
            service_code=service.code,
            channel=SMS,
            description=command.text,
            citizen=citizen,
            attributes=answers,
            language=citizen.language,
            tracking_prefix=tracking_prefix,
            now=now,
        )
    except InvalidInput as exc:
        return SmsResult(texts.say("sms_refused", language, city=city, reason=str(exc)), "refused")
    reply = texts.say(
        "sms_opened", language, city=city, service=service.name, code=case.tracking_code
    )
    return SmsResult(reply, "opened", case)
