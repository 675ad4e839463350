"""Inbound e-mail: a new message opens a case in the service it addresses, a reply carrying a
tracking code joins its case, and anything else is quarantined (kept as a file and a row)."""

import hashlib
import re
import uuid
from collections.abc import Mapping
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
from node.cases.service import MAX_TEXT, record
from node.database import utcnow
from node.errors import InvalidInput
from node.intake import service as intake
from node.intake.email.parsing import Attachment, ParsedMail, Unreadable, parse_mail, without_quotes
from node.intake.free_text import answers_from_text
from node.messaging.models import InboundMessage, QuarantinedMessage
from node.profiles import service as profiles
from node.services import service as catalogue
from node.services.models import Service

EMAIL = Channel.EMAIL.value
# Tracking codes as new_tracking_code writes them: a prefix, a dash, six of Crockford's letters.
TRACKING_CODE = re.compile(r"\b([A-Z]{1,8}-[0-9A-HJKMNP-TV-Z]{6})\b", re.IGNORECASE)


@dataclass(frozen=True)
class MailSettings:
    """Where files go and how big they may be."""

    instance_path: Path
    attachments_dir: Path
    quarantine_dir: Path
    max_message_bytes: int
    max_attachment_bytes: int
    default_language: str
    default_region: str | None
    tracking_prefix: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any], instance_path: Path) -> "MailSettings":
        """The settings of a node app."""
        return cls(
            instance_path=instance_path,
            attachments_dir=config["ATTACHMENTS_DIR"],
            quarantine_dir=config["QUARANTINE_DIR"],
            max_message_bytes=config["MAIL_MAX_BYTES"],
            max_attachment_bytes=config["ATTACHMENT_MAX_BYTES"],
            default_language=config["DEFAULT_LANGUAGE"],
            default_region=config["DEFAULT_COUNTRY_CODE"],
            tracking_prefix=config["TRACKING_PREFIX"],
        )


@dataclass
class MailResult:
    """What became of a message: opened, joined, duplicate or quarantined."""

    outcome: str
    tracking_code: str | None = None
    reason: str | None = None
    quarantine_id: int | None = None
    attachments: list[str] = field(default_factory=list)


class _Quarantine(Exception):
    """The message cannot be placed; the message says why."""


def _relative(path: Path, settings: MailSettings) -> str:
    try:
        return str(path.relative_to(settings.instance_path))
    except ValueError:
        return str(path)


def _safe_filename(name: str) -> str:
    cleaned = re.sub(r"[^\w.-]+", "_", Path(name.replace("\\", "/")).name).strip("._")
    return cleaned[:100] or "attachment"


def quarantine(
    *,
    db_session: Session,
    raw: bytes,
    reason: str,
    settings: MailSettings,
    sender: str | None = None,
    subject: str | None = None,
    now: datetime | None = None,
) -> QuarantinedMessage:
    """Keep a message aside, as a file and a row saying why, for staff to look at."""
    now = now or utcnow()
    settings.quarantine_dir.mkdir(parents=True, exist_ok=True)
    path = settings.quarantine_dir / f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.eml"
    path.write_bytes(raw)
    row = QuarantinedMessage(
        channel=EMAIL,
        reason=reason[:500],
        path=_relative(path, settings),
        size=len(raw),
        sender=(sender or None) and sender[:320],
        subject=(subject or None) and subject[:300],
        received_at=now,
    )
    db_session.add(row)
    db_session.flush()
    return row


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
        path = folder / f"{uuid.uuid4().hex[:8]}-{_safe_filename(attachment.filename)}"
        path.write_bytes(attachment.content)
        written.append(path)
        kept.append(
            {
                "name": attachment.filename[:200],
                "content_type": attachment.content_type,
                "size": len(attachment.content),
                "path": _relative(path, settings),
            }
        )
    return kept


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _join(
    db_session: Session,
    case: Case,
    mail: ParsedMail,
    settings: MailSettings,
    written: list[Path],
    now: datetime,
) -> MailResult:
    contact = case.citizen.email if case.citizen is not None else None
    if contact is None or contact.lower() != mail.sender:
        raise _Quarantine(
            f"the subject names request {case.tracking_code}, but the sender is not its contact"
        )
    kept = _keep_attachments(mail.attachments, case, settings, written)
    case.updated_at = now
    record(
        db_session=db_session,
        kind=EventKind.MESSAGE_RECEIVED,
        actor=Actor.citizen(),
        case=case,
        channel=EMAIL,
        at=now,
        data={
            "text": _clip(without_quotes(mail.text)),
            "subject": mail.subject,
            "attachments": kept,
        },
    )
    return MailResult("joined", case.tracking_code, attachments=[k["path"] for k in kept])


def _open(
    db_session: Session,
    mail: ParsedMail,
    settings: MailSettings,
    written: list[Path],
    now: datetime,
) -> MailResult:
    service = _service_for(db_session, mail)
    spec = catalogue.spec_of(service)
    description = _clip(mail.text or mail.subject)
    try:
        answers = answers_from_text(spec, f"{mail.subject}\n{mail.text}")
    except InvalidInput as exc:
        raise _Quarantine(f"{service.name}: {exc}") from exc
    citizen = profiles.contact_profile(
        db_session=db_session,
        email=mail.sender,
        phone=None,
        language=settings.default_language,
        default_region=settings.default_region,
        channel=EMAIL,
        now=now,
    )
    case = intake.submit(
        db_session=db_session,
        service_code=service.code,
        channel=EMAIL,
        description=description,
        citizen=citizen,
        attributes=answers,
        tracking_prefix=settings.tracking_prefix,
        now=now,
    )
    kept = _keep_attachments(mail.attachments, case, settings, written)
    record(
        db_session=db_session,
        kind=EventKind.MESSAGE_RECEIVED,
        actor=Actor.citizen(),
        case=case,
        channel=EMAIL,
        at=now,
        data={"subject": mail.subject, "attachments": kept},
    )
    return MailResult("opened", case.tracking_code, attachments=[k["path"] for k in kept])


def _case_named_in(db_session: Session, subject: str) -> Case | None:
    for code in TRACKING_CODE.findall(subject):
        case = db_session.scalar(sa.select(Case).where(Case.tracking_code == code.upper()))
        if case is not None:
            return case
    return None


def ingest(
    *,
    db_session: Session,
    raw: bytes,
    settings: MailSettings,
    envelope_recipients: tuple[str, ...] = (),
    now: datetime | None = None,
) -> MailResult:
    """Act on one raw message; the caller commits. Nothing is dropped: what cannot be placed is
    quarantined, after rolling back whatever this call had begun."""
    now = now or utcnow()
    mail: ParsedMail | None = None
    written: list[Path] = []
    try:
        if len(raw) > settings.max_message_bytes:
            raise _Quarantine(
                f"the message is {len(raw)} bytes, more than the {settings.max_message_bytes} "
                "allowed"
            )
        try:
            mail = parse_mail(raw, envelope_recipients=envelope_recipients)
        except Unreadable as exc:
            raise _Quarantine(str(exc)) from exc
        external_id = _external_id(mail, raw)
        seen = db_session.scalar(
            sa.select(InboundMessage).where(
                InboundMessage.channel == EMAIL, InboundMessage.external_id == external_id
            )
        )
        if seen is not None:
            case = db_session.get(Case, seen.case_id) if seen.case_id else None
            return MailResult("duplicate", case.tracking_code if case else None)
        _check_sizes(mail, settings)
        case = _case_named_in(db_session, mail.subject)
        if case is not None:
            result = _join(db_session, case, mail, settings, written, now)
        else:
            result = _open(db_session, mail, settings, written, now)
        db_session.add(
            InboundMessage(
                channel=EMAIL,
                external_id=external_id,
                case_id=db_session.scalar(
                    sa.select(Case.id).where(Case.tracking_code == result.tracking_code)
                ),
                outcome=result.outcome,
                received_at=now,
            )
        )
        db_session.flush()
        return result
    except (_Quarantine, InvalidInput) as exc:
        db_session.rollback()
        for path in written:
            path.unlink(missing_ok=True)
        row = quarantine(
            db_session=db_session,
            raw=raw,
            reason=str(exc),
            settings=settings,
            sender=mail.sender if mail else None,
            subject=mail.subject if mail else None,
            now=now,
        )
        return MailResult("quarantined", reason=row.reason, quarantine_id=row.id)


def sender_of(raw: bytes) -> str | None:
    """The From address read from the headers alone, for limits applied before any work."""
    try:
        headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
        addresses = getattr(headers["From"], "addresses", ())
        return addresses[0].addr_spec.lower() if addresses else None
    except Exception:  # an unreadable header is for ingest to quarantine
        return None


def quarantined(*, db_session: Session, limit: int = 100) -> list[QuarantinedMessage]:
    """The quarantined messages, newest first."""
    query = sa.select(QuarantinedMessage).order_by(QuarantinedMessage.id.desc()).limit(limit)
    return list(db_session.scalars(query))
