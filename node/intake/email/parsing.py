"""Reading an RFC 5322 message with the standard library: sender, recipients, subject, text,
threading headers, attachments, and whether a machine sent it. Anything the node cannot rely on
raises Unreadable with the reason.

Every part of a message is either text of its body or a file kept with it: a forwarded message
(`message/rfc822`) is kept whole as an `.eml` file, an inline image with or without a file name
is kept as an image, and text is decoded by `charsets.decode`, which never loses a byte.
"""

import dataclasses
import html
import mimetypes
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser

from node.intake.email import charsets
from node.intake.email.automatic import DeliveryReport, delivery_report, message_ids, why_automatic

RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
# Signatures of a signed message: proof of its sender, not something the sender attached.
SIGNATURES = frozenset(
    {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
)
FORWARDED = frozenset({"message/rfc822", "message/global"})


class Unreadable(Exception):
    """The message cannot be read well enough to act on; the message says why."""


def sender_and_subject(raw: bytes, languages: tuple[str, ...] = ()) -> tuple[str | None, str]:
    """Who a message says it is from, and its subject, read from its headers alone: what a
    message the node cannot act on is still known by (staff see it, an erasure finds it)."""
    try:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
        senders = _addresses(headers, "From")
        subject = " ".join(_header(headers, "Subject", tuple(languages)).split())
    except Exception:  # headers too broken to read: the message is kept all the same
        return None, ""
    sender = senders[0].replace("\x00", "") if senders else None
    return sender or None, subject.replace("\x00", "")


@dataclass
class Attachment:
    """A file attached to a message (or shown in it, like an inline image)."""

    filename: str
    content_type: str
    content: bytes


@dataclass
class ParsedMail:
    """What the node needs from a message."""

    sender: str
    recipients: list[str]
    subject: str
    text: str  # as written: the quoted message and the signature are still in it
    message_id: str | None
    attachments: list[Attachment] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # In-Reply-To, then References
    automatic: str | None = None  # what shows that no person wrote it (auto-replied, ...)
    report: DeliveryReport | None = None
    charsets: list[str] = field(default_factory=list)  # "cp1252 (declared utf-8)" when guessed
    null_sender: bool = False


def _addresses(message: EmailMessage, name: str) -> list[str]:
    found = []
    for header in message.get_all(name) or []:
        for address in getattr(header, "addresses", ()):
            if address.addr_spec and "@" in address.addr_spec:
                found.append(address.addr_spec.lower())
    return found


def _header(message: EmailMessage, name: str, languages: tuple[str, ...]) -> str:
    """A header as text; undecodable bytes or encoded words in a wrong charset read again."""
    value = message.get(name)
    if value is None:
        return ""
    text = str(value)
    if "\ufffd" not in text:
        return text
    raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), "")
    pieces = []
    for chunk, charset in decode_header(raw):
        data = chunk if isinstance(chunk, bytes) else chunk.encode("utf-8", "surrogateescape")
        pieces.append(charsets.decode(data, charset, languages=languages).text)
    return "".join(pieces)


def _html_to_text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style|head).*?</\1>", "", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>|</li>|<hr[^>]*>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


@dataclass
class _Found:
    """What a walk through the parts found."""

    plain: list[EmailMessage] = field(default_factory=list)
    html: list[EmailMessage] = field(default_factory=list)
    files: list[tuple[EmailMessage, str]] = field(default_factory=list)  # part and its kind


def _alternative(part: EmailMessage) -> EmailMessage | None:
    """The alternative read as the body: plain text first, then HTML, then the first one."""
    children = list(part.iter_parts())
    for wanted in ("text/plain", "text/html"):
        for child in children:
            if child.get_content_type() == wanted or (
                child.is_multipart() and any(p.get_content_type() == wanted for p in child.walk())
            ):
                return child
    return children[0] if children else None


def _walk(part: EmailMessage, found: _Found, *, body: bool = True) -> None:
    """Sort the parts under `part` into body text and files; `body` False keeps files only."""
    content_type = part.get_content_type()
    if content_type in FORWARDED:
        found.files.append((part, "forwarded"))
        return  # kept whole: its own parts are the forwarded message's, not this one's
    if content_type in ("message/delivery-status", "message/global-delivery-status"):
        found.files.append((part, "report"))
        return
    if part.is_multipart():
        if part.get_content_subtype() == "alternative":
            chosen = _alternative(part)
            for child in part.iter_parts():
                # The other alternatives say the same again; their images are still kept.
                _walk(child, found, body=body and child is chosen)
            return
        for child in part.iter_parts():
            _walk(child, found, body=body)
        return
    if content_type in SIGNATURES:
        return
    attached = part.get_content_disposition() == "attachment" or part.get_filename()
    if content_type in ("text/plain", "text/html") and not attached:
        if body:
            (found.plain if content_type == "text/plain" else found.html).append(part)
        return
    found.files.append((part, "file"))


def _decoded(part: EmailMessage, languages: tuple[str, ...], notes: list[str]) -> str:
    data = part.get_payload(decode=True) or b""
    decoded = charsets.decode(data, part.get_content_charset(), languages=languages)
    if decoded.differs:
        notes.append(f"{decoded.charset} (declared {decoded.declared})")
    return decoded.text


def _file(part: EmailMessage, kind: str, number: int) -> Attachment:
    content_type = part.get_content_type()
    name = part.get_filename()
    if kind == "forwarded" or kind == "report":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if kind == "forwarded" and inner is not None:
            try:
                content = inner.as_bytes()
            except Exception:  # a forwarded message the generator cannot write back: as parsed
                content = str(inner).encode("utf-8", "surrogateescape")
            subject = re.sub(r"[^\w -]+", "", str(inner.get("Subject") or "")).strip()[:60]
            name = name or f"{subject or 'forwarded message'}.eml"
        else:
            content = part.as_bytes().split(b"\n\n", 1)[-1]
            name = name or "delivery-status.txt"
        return Attachment(name, content_type, content)
    content = part.get_payload(decode=True) or b""
    if not name:
        # An inline image pasted into the message has a Content-ID but often no file name.
        extension = mimetypes.guess_extension(content_type) or ".bin"
        stem = part.get_content_maintype() if part.get_content_maintype() != "application" else ""
        name = f"{stem or 'attachment'}-{number}{extension}"
    return Attachment(name, content_type, content)


def parse_mail(
    raw: bytes, *, envelope_recipients: tuple[str, ...] = (), languages: tuple[str, ...] = ("en",)
) -> ParsedMail:
    """Read a raw message; raises Unreadable when it has no usable sender or text."""
    if not raw.strip():
        raise Unreadable("the message is empty")
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        senders = _addresses(message, "From")
        recipients = [a.lower() for a in envelope_recipients]
        for name in RECIPIENT_HEADERS:
            recipients += [a for a in _addresses(message, name) if a not in recipients]
        subject = " ".join(_header(message, "Subject", languages).split())
        message_id = str(message["Message-ID"] or "").strip() or None
        references = message_ids(str(message["In-Reply-To"] or ""))
        references += [
            i for i in message_ids(str(message["References"] or "")) if i not in references
        ]
        found = _Found()
        _walk(message, found)
        notes: list[str] = []
        texts = [_decoded(p, languages, notes) for p in found.plain]
        if not texts:
            texts = [_html_to_text(_decoded(p, languages, notes)) for p in found.html]
        else:  # an HTML part beside the plain text is a file of its own, not lost
            found.files += [(p, "file") for p in found.html]
        text = "\n\n".join(t.replace("\r\n", "\n").strip() for t in texts if t.strip())
        attachments = [_file(part, kind, n) for n, (part, kind) in enumerate(found.files, 1)]
        sender = senders[0] if senders else None
        automatic = why_automatic(message, sender=sender, subject=subject)
        report = None
        if automatic is not None:
            report = delivery_report(message, sender=sender, subject=subject, text=text)
        null_sender = str(message.get("Return-Path") or "").strip() == "<>"
    except Unreadable:
        raise
    except Exception as exc:  # any parser failure means the same: keep it aside
        raise Unreadable(f"the message cannot be parsed: {exc}") from exc
    # PostgreSQL text cannot hold U+0000 (RFC 5322 forbids it too), and it carries nothing a
    # reader would miss: dropped from what the node keeps, so that the message still counts.
    senders = [a.replace("\x00", "") for a in senders]
    subject, text = subject.replace("\x00", ""), text.replace("\x00", "")
    message_id = message_id and (message_id.replace("\x00", "") or None)
    recipients = [a.replace("\x00", "") for a in recipients]
    references = [i.replace("\x00", "") for i in references]
    automatic = automatic and automatic.replace("\x00", "")
    for attachment in attachments:  # a file's name is kept in the case's events
        attachment.filename = attachment.filename.replace("\x00", "") or "attachment"
    if report is not None:
        report = dataclasses.replace(
            report,
            action=report.action.replace("\x00", ""),
            status=report.status.replace("\x00", ""),
            diagnostic=report.diagnostic.replace("\x00", ""),
            recipient=report.recipient and report.recipient.replace("\x00", ""),
            message_ids=[i.replace("\x00", "") for i in report.message_ids],
        )
    if not senders:
        raise Unreadable("the message has no sender address (From)")
    if not subject and not text and not attachments:
        raise Unreadable("the message has neither subject nor text")
    return ParsedMail(
        sender=senders[0],
        recipients=recipients,
        subject=subject,
        text=text,
        message_id=message_id,
        attachments=attachments,
        references=references,
        automatic=automatic,
        report=report,
        charsets=notes,
        null_sender=null_sender,
    )
