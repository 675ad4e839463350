"""Channel adapters: one interface per outbound channel, the implementation chosen by setting.

EMAIL_BACKEND is `log` (default: writes the message to the log and sends nothing) or `smtp`.
SMS_GATEWAY is `log` (default) or `http` (a JSON POST to SMS_GATEWAY_URL). The `log` ones let an
embedded node run with nothing installed; the delivery events say which adapter carried a message.
"""

import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

import httpx

log = logging.getLogger("carmen.messaging")


class DeliveryError(Exception):
    """A message was not delivered; `permanent` says whether trying again can help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class EmailSender(Protocol):
    """Sends one plain-text e-mail; `headers` may name its Message-ID and the thread it joins."""

    name: str

    def send(
        self,
        *,
        to: str,
        subject: str,
        body: str,
        language: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Deliver the message (with these extra headers) or raise DeliveryError."""


def email_message(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    language: str,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A plain-text e-mail with the headers mail servers and clients expect: Date, Message-ID
    (on the sender's domain), Content-Language, and any others given (List-Unsubscribe...)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Content-Language"] = language
    for name, value in (headers or {}).items():
        message[name] = value
    if "Message-ID" not in message:  # a notification chooses its own, the same on every retry
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    return message


class SmsGateway(Protocol):
    """Sends one SMS."""

    name: str

    def send(self, *, to: str, body: str) -> None:
        """Deliver the message or raise DeliveryError."""


class LogEmail:
    """Writes e-mails to the log instead of sending them."""

    name = "log"

    def send(
        self,
        *,
        to: str,
        subject: str,
        body: str,
        language: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Log the message."""
        extra = "".join(f"{name}: {value}\n" for name, value in (headers or {}).items())
        log.info("e-mail (not sent, EMAIL_BACKEND=log) to %s: %s\n%s%s", to, subject, extra, body)


@dataclass
class SmtpEmail:
    """Sends e-mail through an SMTP server with smtplib (STARTTLS and login when configured)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    name: str = "smtp"

    def send(
        self,
        *,
        to: str,
        subject: str,
        body: str,
        language: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Hand the message to the server; refused recipients are permanent, the rest retried."""
        message = email_message(
            sender=self.sender,
            to=to,
            subject=subject,
            body=body,
            language=language,
            headers=headers,
        )
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx answers will not change on a retry; 4xx are the server asking to come back.
            raise DeliveryError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=500 <= exc.smtp_code < 600
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:  # timeouts are OSErrors
            raise DeliveryError(f"SMTP server {self.host}:{self.port}: {exc}") from exc


class LogSms:
    """Writes SMS to the log instead of sending them."""

    name = "log"

    def send(self, *, to: str, body: str) -> None:
        """Log the message."""
        log.info("SMS (not sent, SMS_GATEWAY=log) to %s: %s", to, body)


@dataclass
class HttpSms:
    """Sends SMS through an HTTP gateway: POST {"to", "from", "body"} as JSON with a bearer token.

    2xx is delivered, 4xx is a permanent refusal (a bad number or a bad request will not get
    better), 5xx and network errors are retried.
    """

    url: str
    token: str | None = None
    sender: str | None = None
    timeout: float = 10.0
    transport: httpx.BaseTransport | None = None
    name: str = "http"

    def send(self, *, to: str, body: str) -> None:
        """POST the message to the gateway."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        payload = {"to": to, "from": self.sender, "body": body}
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                response = client.post(self.url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"SMS gateway {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise DeliveryError(
                f"SMS gateway answered {response.status_code}: {response.text[:200]}",
                permanent=response.status_code < 500,
            )


@dataclass
class Adapters:
    """The adapters a node sends through."""

    email: EmailSender
    sms: SmsGateway


def email_sender_from(config: Mapping[str, Any]) -> EmailSender:
    """The e-mail adapter the settings choose."""
    if config["EMAIL_BACKEND"] == "log":
        return LogEmail()
    return SmtpEmail(
        host=config["SMTP_HOST"],
        port=config["SMTP_PORT"],
        sender=config["MAIL_FROM"],
        username=config["SMTP_USERNAME"],
        password=config["SMTP_PASSWORD"],
        starttls=config["SMTP_STARTTLS"],
        timeout=config["SMTP_TIMEOUT"],
    )


def sms_gateway_from(config: Mapping[str, Any]) -> SmsGateway:
    """The SMS adapter the settings choose."""
    if config["SMS_GATEWAY"] == "log":
        return LogSms()
    return HttpSms(
        url=config["SMS_GATEWAY_URL"],
        token=config["SMS_GATEWAY_TOKEN"],
        sender=config["SMS_FROM"],
        timeout=config["SMS_GATEWAY_TIMEOUT"],
    )


def adapters_from(config: Mapping[str, Any]) -> Adapters:
    """Both adapters, as the settings choose them."""
    return Adapters(email=email_sender_from(config), sms=sms_gateway_from(config))
