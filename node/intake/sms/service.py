"""The SMS grammar: `<KEYWORD> <text>` opens a case, `STATUS <code>` answers its status,
`STOP` / `START` opt out of and back into SMS, `HELP` lists the keywords; a service's questions
are then asked one per message, and the next message from that number answers the one asked."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.behaviours import behaviour_of
from node.cases.models import Case, EventKind
from node.cases.schemas import Actor
from node.cases.service import MAX_TEXT, get_by_code, record
from node.database import savepoint, utcnow
from node.errors import InvalidInput, NotFound
from node.intake import service as intake
from node.intake.free_text import catch_all, unasked_answers
from node.intake.sms import dialogue
from node.intake.sms.models import SmsDialogue
from node.messaging import texts
from node.messaging.models import InboundMessage
from node.plugins import SmsRequest
from node.profiles import service as profiles
from node.profiles.models import Citizen
from node.profiles.schemas import normalise_phone
from node.services import service as catalogue
from node.services.models import Service
from node.services.schemas import Attribute

# Opt-out and opt-in words as gateways and carriers honour them, and in the node's languages.
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
    | {"BASTA", "DISISCRIVI", "DISISCRIVIMI", "CANCELLAMI", "ANNULLA"}
)
START_WORDS = frozenset({"START", "UNSTOP", "RESUME", "OPTIN", "RIATTIVA", "RICOMINCIA"})
HELP_WORDS = frozenset({"HELP", "INFO", "AIUTO"})
# Opt-out words that are one at the head of a sentence too ("Stop sending me these"); the
# others only alone, since "End of Via Roma" or "Cancel my booking" say something else.
LEADING_STOP = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE"})
STATUS_WORDS = frozenset({"STATUS", "STATO"})
# Words around a command that do not change it ("STOP please", "per favore STOP").
POLITE_WORDS = frozenset({"PLEASE", "PLS", "PLZ", "THANKS", "THANK", "YOU", "PER", "FAVORE"})
POLITE_WORDS |= {"GRAZIE", "NOW", "ORA", "SUBITO"}
# Commands that are honoured whatever the rate limits say: a citizen can always leave.
UNLIMITED = frozenset({"stop", "start", "help"})
MAX_TRIES = 2  # replies that do not answer a question before the node moves on
SMS = Channel.SMS.value


@dataclass(frozen=True)
class Command:
    """What an SMS asks for: stop, start, status, open (with keyword and text) or help."""

    kind: str
    word: str = ""
    text: str = ""

    @property
    def bypasses_limits(self) -> bool:
        """Whether it is STOP, START or HELP, which no rate limit may refuse."""
        return self.kind in UNLIMITED


@dataclass
class SmsResult:
    """The reply to send back, and the case the message opened, if any."""

    reply: str
    outcome: str
    case: Case | None = None


def _command_word(words: list[str]) -> str | None:
    """STOP, START or HELP when the message is nothing more: "s t o p", "Stop please"."""
    kept = [w for w in words if w not in POLITE_WORDS] or words
    for candidate in ("".join(words), "".join(kept)):
        if candidate in STOP_WORDS | START_WORDS | HELP_WORDS:
            return candidate
    return None


def parse_command(body: str) -> Command:
    """Read the command of a message, in any case of letters: STOP, START or HELP alone (or
    with polite words), a message that starts with STOP or HELP, else the first word."""
    words = re.findall(r"\w+", (body or "").upper())
    if not words:
        return Command("help")
    alone, first = _command_word(words), words[0]
    parts = (body or "").strip().split(maxsplit=1)
    rest = parts[1].strip() if len(parts) > 1 else ""
    if alone in STOP_WORDS or first in LEADING_STOP:
        return Command("stop", alone or first)
    if alone in START_WORDS:
        return Command("start", alone)
    if alone in HELP_WORDS or first in HELP_WORDS:
        return Command("help", alone or first)
    if first in STATUS_WORDS:
        return Command("status", first, rest.split()[0] if rest else "")
    return Command("open", re.sub(r"[^\w]", "", parts[0]).upper(), rest)


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


def reply_language(
    *, db_session: Session, sender: str, default_language: str, region: str | None
) -> str:
    """The language to answer a number in: its profile's, else the node's default."""
    try:
        citizen = profiles.find_by_contact(
            db_session=db_session, phone=normalise_phone(sender, region)
        )
    except ValueError:
        citizen = None
    return citizen.language if citizen else default_language


@dataclass(frozen=True)
class _Context:
    """What every step of one message's handling needs."""

    db_session: Session
    language: str
    city: str
    tracking_prefix: str
    now: datetime
    dialogue_time: timedelta


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
    dialogue_minutes: int = 60,
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
    context = _Context(
        db_session, language, city, tracking_prefix, now, timedelta(minutes=dialogue_minutes)
    )

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
    open_dialogue = _live_dialogue(db_session, citizen, now) if citizen else None
    result: SmsResult | None = None
    if command.kind == "stop":
        citizen = profile()
        _set_opt_out(db_session, citizen, True, now)
        _end_dialogue(db_session, citizen.id)
        result = SmsResult(texts.say("sms_stop", language, city=city), "stop")
    elif command.kind == "start":
        _set_opt_out(db_session, profile(), False, now)
        result = SmsResult(texts.say("sms_start", language, city=city), "start")
    elif command.kind == "help":
        result = SmsResult(_help(db_session, language, city), "help")
    elif open_dialogue is not None:
        result = _continue_dialogue(context, open_dialogue, body, command)
    if result is None:
        if command.kind == "status" and command.text:
            result = SmsResult(_status(db_session, command.text, language, city), "status")
        elif command.kind == "open" and (
            service := catalogue.by_sms_keyword(db_session=db_session, keyword=command.word)
        ):
            if citizen is not None:
                _end_dialogue(db_session, citizen.id)  # a new request: the old questions lapse
            result = _keyword(context, service, command, citizen, profile, services_dir, timezone)
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


def _keyword(
    context: _Context,
    service: Service,
    command: Command,
    citizen: Citizen | None,
    profile,
    services_dir: Path,
    timezone: str,
) -> SmsResult:
    """`<KEYWORD> <text>`: the service's behaviour answers, or a case opens."""
    behaviour = behaviour_of(catalogue.spec_of(service))
    if behaviour.answer_sms is None:
        return _open(context, service=service, text=command.text, citizen_of=profile)
    # The service's behaviour reads what follows its keyword (node/behaviours.py).
    reply, outcome = behaviour.answer_sms(
        SmsRequest(
            db_session=context.db_session,
            service=service,
            text=command.text,
            citizen=citizen,
            citizen_of=profile,
            language=context.language,
            city=context.city,
            now=context.now,
            services_dir=services_dir,
            timezone=timezone,
            read_settings=behaviour.read_settings,
        )
    )
    return SmsResult(reply, outcome)


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


def _waits_for(attribute: Attribute) -> bool:
    """Whether a request cannot open before this question is answered."""
    return attribute.required and catch_all(attribute) is None


def _open(context: _Context, *, service: Service, text: str, citizen_of) -> SmsResult:
    """Open a case at once with the words sent, then ask the service's questions; a required
    question without a catch-all choice is asked first, and the request waits for it."""
    language, city = context.language, context.city
    if not text:
        reply = texts.say("sms_needs_text", language, city=city, keyword=service.sms_keyword)
        return SmsResult(reply, "needs_text")
    spec = catalogue.spec_of(service, language=language)
    asked = dialogue.questions(spec)
    waiting = [a for a in asked if _waits_for(a)]
    try:
        citizen = citizen_of()
        if waiting:
            rest = [a.code for a in asked if a not in waiting]
            order = [a.code for a in waiting] + rest
            _start_dialogue(context, citizen, service, order, case=None, text=text)
            question = dialogue.ask(waiting[0], citizen.language, needed=True)
            intro = texts.say("sms_waiting", citizen.language, city=city, service=spec.name)
            return SmsResult(f"{intro} {question}", "asked")
        return _submit(context, service, citizen, text, {}, [a.code for a in asked])
    except InvalidInput as exc:
        return SmsResult(texts.say("sms_refused", language, city=city, reason=str(exc)), "refused")


def _submit(
    context: _Context,
    service: Service,
    citizen: Citizen,
    text: str,
    answers: dict,
    to_ask: list[str],
) -> SmsResult:
    """Open the case, and ask the first of the questions still to ask."""
    spec = catalogue.spec_of(service, language=citizen.language)
    case = intake.submit(
        db_session=context.db_session,
        service_code=service.code,
        channel=SMS,
        description=text,
        citizen=citizen,
        attributes=unasked_answers(spec, answers),
        language=citizen.language,
        tracking_prefix=context.tracking_prefix,
        now=context.now,
    )
    language = citizen.language
    reply = texts.say(
        "sms_opened", language, city=context.city, service=spec.name, code=case.tracking_code
    )
    to_ask = [code for code in to_ask if code not in answers]
    if to_ask:
        _start_dialogue(context, citizen, service, to_ask, case=case)
        reply = f"{reply} {_question(spec, to_ask[0], language)}"
    return SmsResult(reply, "opened", case)


def _question(spec, code: str, language: str) -> str:
    attribute = next(a for a in spec.attributes if a.code == code)
    return dialogue.ask(attribute, language, needed=False)


# ------------------------------------------------------------------ the dialogue state


def _live_dialogue(db_session: Session, citizen: Citizen, now: datetime) -> SmsDialogue | None:
    """The citizen's open question, locked for this transaction; None when there is none or it
    expired (then it is forgotten)."""
    state = db_session.get(SmsDialogue, citizen.id, with_for_update=True)
    if state is None:
        return None
    if state.expires_at <= now or _no_longer_offered(db_session, state):
        db_session.delete(state)
        db_session.flush()
        return None
    return state


def _no_longer_offered(db_session: Session, state: SmsDialogue) -> bool:
    """Whether the service or the question asked is no longer on offer."""
    service = db_session.get(Service, state.service_code)
    if service is None or not service.active:
        return True
    return state.asking not in {a.code for a in catalogue.spec_of(service).attributes}


def _end_dialogue(db_session: Session, citizen_id: int) -> None:
    state = db_session.get(SmsDialogue, citizen_id)
    if state is not None:
        db_session.delete(state)
        db_session.flush()


def _start_dialogue(
    context: _Context,
    citizen: Citizen,
    service: Service,
    order: list[str],
    *,
    case: Case | None,
    text: str | None = None,
) -> SmsDialogue:
    """Ask the first question of `order` from now on (replacing any earlier question)."""
    db_session = context.db_session
    values = {
        "service_code": service.code,
        "case_id": case.id if case else None,
        "text": text if case is None else None,
        "answers": {},
        "asking": order[0],
        "to_ask": order[1:],
        "tries": 0,
        "asked_at": context.now,
        "expires_at": context.now + context.dialogue_time,
    }
    # Two messages of one number at once may both start a dialogue: the later one wins.
    for _attempt in range(2):
        try:
            with savepoint(db_session):
                state = db_session.get(SmsDialogue, citizen.id, with_for_update=True)
                if state is None:
                    state = SmsDialogue(citizen_id=citizen.id, **values)
                    db_session.add(state)
                else:
                    for name, value in values.items():
                        setattr(state, name, value)
                db_session.flush()
                return state
        except IntegrityError:
            continue
    raise RuntimeError(f"the SMS dialogue of citizen {citizen.id} could not be saved")


def _continue_dialogue(
    context: _Context, state: SmsDialogue, body: str, command: Command
) -> SmsResult | None:
    """Read the message as the answer to the question asked; None when it is a new command."""
    db_session = context.db_session
    service = db_session.get(Service, state.service_code)
    spec = catalogue.spec_of(service, language=context.language)
    attribute = next(a for a in spec.attributes if a.code == state.asking)
    reading = dialogue.read(attribute, body, whole_only=True)
    if reading.kind == "none":
        is_command = command.kind == "status" or (
            command.kind == "open"
            and catalogue.by_sms_keyword(db_session=db_session, keyword=command.word)
        )
        if is_command:
            return None
        reading = dialogue.read(attribute, body)
    case = db_session.get(Case, state.case_id) if state.case_id else None
    citizen = db_session.get(Citizen, state.citizen_id)
    language = citizen.language
    if case is not None:
        _keep_message(db_session, case, body, reading, attribute, context.now)
    elif reading.kind == "none":
        # Words that answer nothing still belong to the waiting request.
        state.text = f"{state.text or ''}\n{body.strip()}".strip()[:MAX_TEXT]
    if reading.kind == "answer":
        if case is not None:
            intake.answer_question(
                db_session=db_session,
                case=case,
                code=attribute.code,
                value=reading.value,
                now=context.now,
            )
        else:
            state.answers = {**state.answers, attribute.code: reading.value}
        return _next_question(context, state, service, case, citizen, "answered")
    needed = case is None and _waits_for(attribute)
    state.tries += 1
    if reading.kind == "skip" and not needed:
        return _next_question(context, state, service, case, citizen, "skipped")
    if state.tries >= MAX_TRIES:
        if needed:
            _end_dialogue(db_session, citizen.id)
            reply = texts.say(
                "sms_dropped",
                language,
                city=context.city,
                service=spec.name,
                keyword=service.sms_keyword,
            )
            return SmsResult(reply, "dropped")
        return _next_question(context, state, service, case, citizen, "unanswered")
    state.expires_at = context.now + context.dialogue_time
    db_session.flush()
    question = dialogue.ask(attribute, language, needed=needed)
    if reading.kind == "skip":  # the question says why it cannot be left out
        return SmsResult(question, "unread", case)
    again = texts.say("sms_not_understood", language, city=context.city)
    return SmsResult(f"{again} {question}", "unread", case)


def _keep_message(
    db_session: Session, case: Case, body: str, reading, attribute: Attribute, now: datetime
) -> None:
    """Every reply goes on the case's record, with the answer it gave if any."""
    data: dict = {"text": body.strip()[:MAX_TEXT], "question": attribute.code}
    if reading.kind == "answer":
        data["answer"] = reading.value
    case.updated_at = now
    record(
        db_session=db_session,
        kind=EventKind.MESSAGE_RECEIVED,
        actor=Actor.citizen(),
        case=case,
        channel=SMS,
        at=now,
        data=data,
    )


def _next_question(
    context: _Context,
    state: SmsDialogue,
    service: Service,
    case: Case | None,
    citizen: Citizen,
    outcome: str,
) -> SmsResult:
    """Ask the next question, open the waiting request once nothing it needs is open, or say
    that the request is complete."""
    db_session = context.db_session
    spec = catalogue.spec_of(service, language=citizen.language)
    language = citizen.language
    by_code = {a.code: a for a in spec.attributes}
    remaining = [code for code in state.to_ask if code in by_code]
    if case is None and not any(_waits_for(by_code[c]) for c in remaining):
        text, answers = state.text or "", dict(state.answers)
        _end_dialogue(db_session, citizen.id)
        try:
            opened = _submit(context, service, citizen, text, answers, remaining)
        except InvalidInput as exc:
            reason = str(exc)
            reply = texts.say("sms_refused", language, city=context.city, reason=reason)
            return SmsResult(reply, "refused")
        return SmsResult(opened.reply, "opened", opened.case)
    if not remaining:
        _end_dialogue(db_session, citizen.id)
        reply = texts.say("sms_complete", language, city=context.city, code=case.tracking_code)
        return SmsResult(reply, outcome, case)
    state.asking, state.to_ask, state.tries = remaining[0], remaining[1:], 0
    state.asked_at, state.expires_at = context.now, context.now + context.dialogue_time
    db_session.flush()
    attribute = by_code[remaining[0]]
    needed = case is None and _waits_for(attribute)
    thanks = texts.say("sms_thanks", language, city=context.city)
    return SmsResult(f"{thanks} {dialogue.ask(attribute, language, needed=needed)}", outcome, case)


def forget_citizen(*, db_session: Session, citizen_id: int) -> None:
    """An erased citizen's open question and the request waiting on it go with them."""
    _end_dialogue(db_session, citizen_id)
