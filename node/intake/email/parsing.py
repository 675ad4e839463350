"""Reading an RFC 5322 message with the standard library: sender, recipients, subject, text,
attachments. Anything the node cannot rely on raises Unreadable with the reason."""

import html
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
# Where a mail client starts quoting the message being answered.
_QUOTE_STARTS = re.compile(
    r"^(On .+ wrote:|Il .+ ha scritto:|-+ ?Original Message ?-+|-+ ?Messaggio originale ?-+)\s*$",
    re.IGNORECASE,
)


class Unreadable(Exception):
    """The message cannot be read well enough to act on; the message says why."""


@dataclass
class Attachment:
    """A file attached to a message."""

    filename: str
    content_type: str
    content: bytes


@dataclass
class ParsedMail:
    """What the node needs from a message."""

    sender: str
    recipients: list[str]
    subject: str
    text: str
    message_id: str | None
    attachments: list[Attachment] = field(default_factory=list)


def _addresses(message: EmailMessage, name: str) -> list[str]:
    found = []
    for header in message.get_all(name) or []:
        for address in getattr(header, "addresses", ()):
            if address.addr_spec and "@" in address.addr_spec:
                found.append(address.addr_spec.lower())
    return found


def _html_to_text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style).*?</\1>", "", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def _body_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        content = body.get_content()
    except (LookupError, ValueError, AssertionError) as exc:  # unknown charset, broken encoding
        raise Unreadable(f"the text of the message cannot be decoded: {exc}") from exc
    if not isinstance(content, str):
        return ""
    if body.get_content_subtype() == "html":
        content = _html_to_text(content)
    return content.replace("\r\n", "\n").strip()


def _attachments(message: EmailMessage) -> list[Attachment]:
    body = message.get_body(preferencelist=("plain", "html"))
    found = []
    for number, part in enumerate(message.walk(), start=1):
        if part.is_multipart() or part is body or part is message:
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition != "attachment" and not filename:
            continue  # an alternative or inline body part, not a file the sender attached
        content = part.get_payload(decode=True) or b""
        found.append(
            Attachment(
                filename=filename or f"attachment-{number}",
                content_type=part.get_content_type(),
                content=content,
            )
        )
    return found


def parse_mail(raw: bytes, *, envelope_recipients: tuple[str, ...] = ()) -> ParsedMail:
    """Read a raw message; raises Unreadable when it has no usable sender or text."""
    if not raw.strip():
        raise Unreadable("the message is empty")
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        senders = _addresses(message, "From")
        recipients = [a.lower() for a in envelope_recipients]
        for name in RECIPIENT_HEADERS:
            recipients += [a for a in _addresses(message, name) if a not in recipients]
        subject = " ".join(str(message["Subject"] or "").split())
        message_id = str(message["Message-ID"] or "").strip() or None
        text = _body_text(message)
        attachments = _attachments(message)
    except Unreadable:
        raise
    except Exception as exc:  # any parser failure means the same: keep it aside
        raise Unreadable(f"the message cannot be parsed: {exc}") from exc
    # PostgreSQL text cannot hold U+0000 (RFC 5322 forbids it too), and it carries nothing a
    # reader would miss: dropped from what the node keeps, so that the message still counts.
    senders = [a.replace("\x00", "") for a in senders]
    subject, text = subject.replace("\x00", ""), text.replace("\x00", "")
    message_id = message_id and (message_id.replace("\x00", "") or None)
    if not senders:
        raise Unreadable("the message has no sender address (From)")
    if not subject and not text and not attachments:
        raise Unreadable("the message has neither subject nor text")
    return ParsedMail(senders[0], recipients, subject, text, message_id, attachments)


def without_quotes(text: str) -> str:
    """A reply's own words: the quoted message it answers is left out."""
    kept = []
    for line in text.splitlines():
        if _QUOTE_STARTS.match(line.strip()):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()
