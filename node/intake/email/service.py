"""Inbound e-mail: a new message opens a case in the service it addresses, a reply joins the case
it answers, a machine's message (an auto-reply, a bounce) is recorded without a case, and
anything else is quarantined (kept as a file and a row) until staff release or replay it.

The raw bytes of every accepted message are archived with its case (`archive.py`); the case
keeps the writer's own words (`own_words.py`).
"""

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.cases.models import Case, EventKind
from node.cases.schemas import Actor
from node.cases.service import MAX_TEXT, get_by_code, record
from node.database import savepoint, utcnow
from node.errors import Conflict, InvalidInput, NotFound
from node.intake import service as intake
from node.intake.email.archive import (
    MailSettings,
    archive_raw,
    quarantine,
    quarantined,
    safe_filename,
)
from node.intake.email.automatic import NO_REPLY
from node.intake.email.models import ArchivedMail
from node.intake.email.own_words import forwarded_words, own_words
from node.intake.email.parsing import (
    Attachment,
    ParsedMail,
    Unreadable,
    parse_mail,
    sender_and_subject,
)
from node.intake.free_text import unasked_answers
from node.messaging import service as messaging
from node.messaging.models import DeliveryStatus, InboundMessage, QuarantinedMessage
from node.profiles import service as profiles
from node.services import service as catalogue
from node.services.models import Service

__all__ = ["MailResult", "MailSettings", "ingest", "quarantined", "release", "replay"]

EMAIL = Channel.EMAIL.value
# Tracking codes as new_tracking_code writes them: a prefix, a dash, six of Crockford's letters.
TRACKING_CODE = re.compile(r"\b([A-Z]{1,8}-[0-9A-HJKMNP-TV-Z]{6})\b", re.IGNORECASE)


@dataclass
class MailResult:
    """What became of a message: opened, joined, duplicate, automatic or quarantined."""

    outcome: str
    tracking_code: str | None = None
    reason: str | None = None
    quarantine_id: int | None = None
    attachments: list[str] = field(default_factory=list)
    case_id: int | None = None
    archived: str | None = None  # where its raw bytes are kept with the case


@dataclass(frozen=True)
class Decision:
    """What a person decided about a quarantined message: it is a citizen's, and it opens a
    case in this service or joins this case (neither: wherever the message itself leads)."""

    service_code: str | None = None
    case_code: str | None = None


class _Quarantine(Exception):
    """The message cannot be placed; the message says why."""

    def __init__(
        self,
        reason: str,
        *,
        automatic: str | None = None,
        sender: str | None = None,
        subject: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.automatic = automatic
        self.sender = sender  # of the message, once it could be read
        self.subject = subject


def _external_id(mail: ParsedMail, raw: bytes) -> str:
    # Without a Message-ID the bytes themselves identify a re-delivery.
    return (mail.message_id or "sha256:" + hashlib.sha256(raw).hexdigest())[:300]


def _service_for(db_session: Session, mail: ParsedMail) -> Service:
    services = [s for s in catalogue.list_active(db_session=db_session) if EMAIL in s.channels]
    for service in services:
        address = (catalogue.spec_of(service).email_address or "").strip().lower()
        if address and address in mail.recipients:
            return service
    words = {w.upper() for w in re.findall(r"[\w-]+", mail.subject)}
    for service in services:
        if service.code.upper() in words or (service.sms_keyword or "") in words:
            return service
    to = ", ".join(mail.recipients) or "no recipient"
    raise _Quarantine(f"no service takes e-mail at {to} and the subject names no service keyword")


def _check_sizes(mail: ParsedMail, settings: MailSettings) -> None:
    for attachment in mail.attachments:
        if len(attachment.content) > settings.max_attachment_bytes:
            raise _Quarantine(
                f"attachment {attachment.filename!r} is {len(attachment.content)} bytes, more "
                f"than the {settings.max_attachment_bytes} allowed"
            )


def _keep_attachments(
    attachments: list[Attachment], case: Case, settings: MailSettings, written: list[Path]
) -> list[dict[str, Any]]:
    folder = settings.attachments_dir / case.tracking_code
    kept = []
    for attachment in attachments:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex[:8]}-{safe_filename(attachment.filename)}"
        path.write_bytes(attachment.content)
        written.append(path)
        kept.append(
            {
                "name": attachment.filename[:200],
                "content_type": attachment.content_type,
                "size": len(attachment.content),
                "path": settings.relative(path),
            }
        )
    return kept


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _case_by_references(db_session: Session, ids: list[str]) -> Case | None:
    """The case of a message the node sent or received, named in In-Reply-To or References."""
    if not ids:
        return None
    sent = messaging.sent_with(db_session=db_session, message_ids=ids)
    if sent is not None:
        return db_session.get(Case, sent.case_id)
    case_id = db_session.scalar(
        sa.select(InboundMessage.case_id)
        .where(
            InboundMessage.channel == EMAIL,
            InboundMessage.external_id.in_(ids),
            InboundMessage.case_id.is_not(None),
        )
        .limit(1)
    )
    return db_session.get(Case, case_id) if case_id else None


def _case_named_in(db_session: Session, text: str) -> Case | None:
    for code in dict.fromkeys(c.upper() for c in TRACKING_CODE.findall(text)):
        case = db_session.scalar(sa.select(Case).where(Case.tracking_code == code))
        if case is not None:
            return case
    return None


def _thread(db_session: Session, mail: ParsedMail) -> tuple[Case | None, str]:
    """The case a message continues, and how it says so: references, subject or body."""
    case = _case_by_references(db_session, mail.references)
    if case is not None:
        return case, "references"
    case = _case_named_in(db_session, mail.subject)
    if case is not None:
        return case, "subject"
    return _case_named_in(db_session, mail.text), "body"


def _from_contact(case: Case, mail: ParsedMail) -> bool:
    contact = case.citizen.email if case.citizen is not None else None
    return contact is not None and contact.lower() == mail.sender


def _replyable(mail: ParsedMail, settings: MailSettings) -> bool:
    """Whether a receipt may go to the sender: a person's address, never the node's own, a
    bounce address or a no-reply address (a receipt there is lost, or answered by a machine)."""
    return not (
        mail.null_sender
        or mail.automatic
        or NO_REPLY.match(mail.sender)
        or mail.sender == settings.mail_from.strip().lower()
    )


@dataclass(frozen=True)
class _Taking:
    """One message being taken in: the session, its bytes, what was read of it, the settings,
    the files written so far (deleted if it ends in the quarantine) and the moment."""

    db_session: Session
    raw: bytes
    mail: ParsedMail
    settings: MailSettings
    written: list[Path]
    now: datetime

    def archive(self, case: Case) -> ArchivedMail:
        """Keep the raw message with the case."""
        return archive_raw(
            db_session=self.db_session,
            raw=self.raw,
            case=case,
            message_id=self.mail.message_id,
            settings=self.settings,
            now=self.now,
            written=self.written,
        )

    def words(self) -> str:
        """The writer's own words."""
        return own_words(self.mail.text, region=self.settings.default_region)


def _received(taking: _Taking, case: Case, *, outcome: str, data: dict[str, Any]) -> MailResult:
    """Keep a citizen's message with their case: its files, its raw bytes, and the event."""
    mail = taking.mail
    kept = _keep_attachments(mail.attachments, case, taking.settings, taking.written)
    archived = taking.archive(case)
    data |= {
        "subject": mail.subject,
        "attachments": kept,
        "archive": archived.id,
        "message_id": mail.message_id,
    }
    if mail.charsets:
        data["charsets"] = mail.charsets
    case.updated_at = taking.now
    record(
        db_session=taking.db_session,
        kind=EventKind.MESSAGE_RECEIVED,
        actor=Actor.citizen(),
        case=case,
        channel=EMAIL,
        at=taking.now,
        data=data,
    )
    files = [k["path"] for k in kept]
    return MailResult(outcome, case.tracking_code, None, None, files, case.id, archived.path)


def _join(taking: _Taking, case: Case, *, check_sender: bool = True) -> MailResult:
    if check_sender and not _from_contact(case, taking.mail):
        raise _Quarantine(
            f"the message names request {case.tracking_code}, but the sender is not its contact"
        )
    return _received(taking, case, outcome="joined", data={"text": _clip(taking.words())})


def _open(taking: _Taking, *, service: Service | None = None) -> MailResult:
    db_session, mail, settings = taking.db_session, taking.mail, taking.settings
    service = service or _service_for(db_session, mail)
    spec = catalogue.spec_of(service)
    # The writer's words, else those of the message they forward in the text (a colleague
    # passing a citizen's mail on), else the subject (a message that only forwards another as
    # an attachment), else all.
    description = _clip(
        taking.words()
        or forwarded_words(mail.text, subject=mail.subject, region=settings.default_region)
        or mail.subject
        or mail.text
    )
    try:
        # E-mail asks no questions: nothing is read from the words, catch-alls stand in.
        answers = unasked_answers(spec)
    except InvalidInput as exc:
        raise _Quarantine(f"{service.name}: {exc}") from exc
    citizen = profiles.contact_profile(
        db_session=db_session,
        email=mail.sender,
        phone=None,
        language=settings.default_language,
        default_region=settings.default_region,
        channel=EMAIL,
        now=taking.now,
    )
    case = intake.submit(
        db_session=db_session,
        service_code=service.code,
        channel=EMAIL,
        description=description,
        citizen=citizen,
        attributes=answers,
        tracking_prefix=settings.tracking_prefix,
        now=taking.now,
    )
    receipt = {messaging.RECEIPT: _replyable(mail, settings)}
    return _received(taking, case, outcome="opened", data=receipt)


def _automatic(taking: _Taking) -> MailResult:
    """A machine's message: recorded on the case it is about (a bounce marks the notification
    it reports on as failed), or kept in the quarantine when it is about none; never a case."""
    db_session, mail = taking.db_session, taking.mail
    report = mail.report
    case, _how = _thread(db_session, mail)
    data: dict[str, Any] = {"automatic": mail.automatic, "subject": mail.subject}
    if report is not None:
        data |= {"action": report.action, "status": report.status}
        sent = messaging.sent_with(
            db_session=db_session, message_ids=report.message_ids + mail.references
        )
        if sent is not None:
            case = db_session.get(Case, sent.case_id)
            data["notification"] = sent.id
            if report.failed and sent.status is not DeliveryStatus.FAILED:
                messaging.mark_bounced(
                    db_session=db_session,
                    notification=sent,
                    status=report.status,
                    diagnostic=report.diagnostic,
                    now=taking.now,
                )
    if case is None:
        raise _Quarantine(
            f"an automatic message ({mail.automatic}) about no request of this node: kept, "
            "and no case opened for it",
            automatic=mail.automatic,
        )
    archived = taking.archive(case)
    record(
        db_session=db_session,
        kind=EventKind.AUTOMATIC_MESSAGE,
        actor=Actor.system(),
        case=case,
        channel=EMAIL,
        at=taking.now,
        data=data | {"archive": archived.id},
    )
    return MailResult("automatic", case.tracking_code, case_id=case.id, archived=archived.path)


def _place(taking: _Taking, decision: Decision | None) -> MailResult:
    """Decide what the message is and act on it; a person's decision overrides the checks."""
    db_session, mail = taking.db_session, taking.mail
    if decision is None:
        if mail.automatic:
            return _automatic(taking)
        _check_sizes(mail, taking.settings)
    elif decision.case_code:
        case = get_by_code(db_session=db_session, code=decision.case_code)
        return _join(taking, case, check_sender=False)
    elif decision.service_code:
        service = catalogue.get(db_session=db_session, code=decision.service_code)
        return _open(taking, service=service)
    case, how = _thread(db_session, mail)
    # A code in the body of someone else's message is a mention, not a reply to that case.
    if case is not None and (how != "body" or _from_contact(case, mail)):
        return _join(taking, case, check_sender=decision is None)
    return _open(taking)


def _run(
    db_session: Session,
    raw: bytes,
    settings: MailSettings,
    envelope_recipients: tuple[str, ...],
    now: datetime,
    written: list[Path],
    decision: Decision | None = None,
) -> MailResult:
    if decision is None and len(raw) > settings.max_message_bytes:
        sender, subject = sender_and_subject(raw, settings.languages)
        raise _Quarantine(
            f"the message is {len(raw)} bytes, more than the {settings.max_message_bytes} allowed",
            sender=sender,
            subject=subject,
        )
    try:
        mail = parse_mail(
            raw, envelope_recipients=envelope_recipients, languages=settings.languages
        )
    except Unreadable as exc:
        sender, subject = sender_and_subject(raw, settings.languages)
        raise _Quarantine(str(exc), sender=sender, subject=subject) from exc
    external_id = _external_id(mail, raw)
    seen = db_session.scalar(
        sa.select(InboundMessage).where(
            InboundMessage.channel == EMAIL, InboundMessage.external_id == external_id
        )
    )
    if seen is not None:
        case = db_session.get(Case, seen.case_id) if seen.case_id else None
        return MailResult("duplicate", case.tracking_code if case else None, case_id=seen.case_id)
    try:
        result = _place(_Taking(db_session, raw, mail, settings, written, now), decision)
    except InvalidInput as exc:  # what intake refuses (a service not taking e-mail) waits too
        raise _Quarantine(str(exc), sender=mail.sender, subject=mail.subject) from exc
    except _Quarantine as exc:
        exc.sender, exc.subject = mail.sender, mail.subject
        raise
    db_session.add(
        InboundMessage(
            channel=EMAIL,
            external_id=external_id,
            case_id=result.case_id,
            outcome=result.outcome,
            received_at=now,
        )
    )
    db_session.flush()
    return result


def ingest(
    *,
    db_session: Session,
    raw: bytes,
    settings: MailSettings,
    envelope_recipients: tuple[str, ...] = (),
    now: datetime | None = None,
) -> MailResult:
    """Act on one raw message; the caller commits (firing CASE_CHANGED for `case_id`, so that
    a receipt goes out). Nothing is dropped: what cannot be placed is quarantined, after
    rolling back whatever this call had begun."""
    now = now or utcnow()
    written: list[Path] = []
    try:
        return _run(db_session, raw, settings, envelope_recipients, now, written)
    except _Quarantine as exc:
        db_session.rollback()
        for path in written:
            path.unlink(missing_ok=True)
        row = quarantine(
            db_session=db_session,
            raw=raw,
            reason=str(exc),
            settings=settings,
            sender=exc.sender,
            subject=exc.subject,
            automatic=exc.automatic,
            envelope_recipients=envelope_recipients,
            now=now,
        )
        outcome = "automatic" if exc.automatic else "quarantined"
        return MailResult(outcome, reason=row.reason, quarantine_id=row.id)


def discard_files(result: MailResult, settings: MailSettings) -> None:
    """Delete the files an ingest wrote, when its transaction could not be committed."""
    for path in [*result.attachments, result.archived]:
        if path:
            settings.absolute(path).unlink(missing_ok=True)


def sender_of(raw: bytes) -> str | None:
    """The From address read from the headers alone, for limits applied before any work."""
    try:
        headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
        addresses = getattr(headers["From"], "addresses", ()) if headers["From"] else ()
        return addresses[0].addr_spec.lower() if addresses else None
    except Exception:  # an unreadable header is for ingest to quarantine
        return None


# ------------------------------------------------------------------ release and replay


def _take_again(
    db_session: Session,
    *,
    quarantine_id: int,
    settings: MailSettings,
    actor: Actor,
    decision: Decision | None,
    now: datetime | None,
) -> MailResult:
    now = now or utcnow()
    row = db_session.get(QuarantinedMessage, quarantine_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no quarantined message {quarantine_id}")
    if row.released_at is not None:
        raise Conflict(
            f"quarantined message {row.id} was already {row.resolution} on "
            f"{row.released_at:%Y-%m-%d %H:%M}"
        )
    try:
        raw = settings.absolute(row.path).read_bytes()
    except OSError as exc:
        raise Conflict(f"the file of quarantined message {row.id} cannot be read: {exc}") from exc
    kind = EventKind.MAIL_REPLAYED if decision is None else EventKind.MAIL_RELEASED
    data: dict[str, Any] = {"quarantine": row.id, "reason": row.reason}
    written: list[Path] = []
    try:
        with savepoint(db_session):
            recipients = tuple(row.envelope_recipients or ())
            result = _run(db_session, raw, settings, recipients, now, written, decision)
    except _Quarantine as exc:
        for path in written:
            path.unlink(missing_ok=True)
        row.reason = str(exc)[:500]  # still kept aside, for the reason it has now
        row.automatic = exc.automatic
        record(
            db_session=db_session,
            kind=kind,
            actor=actor,
            channel=EMAIL,
            at=now,
            data=data | {"outcome": "quarantined", "now": row.reason},
        )
        db_session.flush()
        return MailResult("quarantined", reason=row.reason, quarantine_id=row.id)
    if result.archived is not None:
        # The message now lives in the case's archive; the quarantine's copy is not needed.
        settings.absolute(row.path).unlink(missing_ok=True)
        row.path = result.archived
    row.released_at, row.case_id = now, result.case_id
    row.resolution = "replayed" if decision is None else "released"
    case = db_session.get(Case, result.case_id) if result.case_id else None
    record(
        db_session=db_session,
        kind=kind,
        actor=actor,
        case=case,
        channel=EMAIL,
        at=now,
        data=data | {"outcome": result.outcome},
    )
    db_session.flush()
    result.quarantine_id = row.id
    return result


def release(
    *,
    db_session: Session,
    quarantine_id: int,
    settings: MailSettings,
    actor: Actor,
    service_code: str | None = None,
    case_code: str | None = None,
    now: datetime | None = None,
) -> MailResult:
    """Accept a quarantined message after a person looked at it: it opens a case in the service
    given, joins the case given, or goes wherever it leads, whoever sent it and whatever sent
    it (an automatic message, a sender who is not the case's contact, a large file)."""
    return _take_again(
        db_session,
        quarantine_id=quarantine_id,
        settings=settings,
        actor=actor,
        decision=Decision(service_code=service_code, case_code=case_code),
        now=now,
    )


def replay(
    *,
    db_session: Session,
    quarantine_id: int,
    settings: MailSettings,
    actor: Actor,
    now: datetime | None = None,
) -> MailResult:
    """Run a quarantined message through the pipeline again, as if it came now (after a fix:
    a service that takes its address, a larger limit); still unplaced, it stays with its new
    reason."""
    return _take_again(
        db_session,
        quarantine_id=quarantine_id,
        settings=settings,
        actor=actor,
        decision=None,
        now=now,
    )
