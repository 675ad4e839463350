"""POST /sms/inbound: the webhook an SMS gateway calls for each message, answered in TwiML."""

import math
from xml.etree import ElementTree

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from node.auth import keeps_nul
from node.database import db_session
from node.errors import InvalidInput
from node.intake import limits
from node.intake.open311.views import one_writer
from node.intake.sms import service as sms
from node.intake.sms import signature
from node.messaging import texts

bp = Blueprint("sms", __name__, url_prefix="/sms")


def twiml(text: str | None) -> Response:
    """A TwiML document that replies with the text (or says nothing when there is none)."""
    root = ElementTree.Element("Response")
    if text:
        ElementTree.SubElement(root, "Message").text = text
    body = ElementTree.tostring(root, encoding="unicode", xml_declaration=False)
    return Response(
        '<?xml version="1.0" encoding="UTF-8"?>' + body, mimetype="text/xml", status=200
    )


def _refuse(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def _limited(session: Session, sender: str, exc: limits.RateLimited) -> Response:
    """A message over the limit: stored and acted on nowhere, answered 200 (a gateway takes any
    other status for a failed webhook and sends the message again), with one polite reply per
    window so that a flood, or two machines answering each other, gets one SMS back."""
    config = current_app.config
    try:
        limits.check("sms_notice", sender)
    except limits.RateLimited:
        return twiml(None)
    language = sms.reply_language(
        db_session=session,
        sender=sender,
        default_language=config["DEFAULT_LANGUAGE"],
        region=config["DEFAULT_COUNTRY_CODE"],
    )
    minutes = max(1, math.ceil(exc.retry_after / 60))
    return twiml(texts.say("sms_limited", language, city=config["CITY"], minutes=minutes))


@bp.post("/inbound")
@keeps_nul
def inbound() -> Response:
    """Check the gateway's signature, act on the message once, and reply to the sender."""
    config = current_app.config
    token = config["SMS_AUTH_TOKEN"]
    url = config["SMS_WEBHOOK_URL"] or request.url
    params = request.form.to_dict(flat=False)
    if not token:
        return _refuse(403, "SMS is not enabled on this node: set SMS_AUTH_TOKEN")
    if not signature.is_valid(url, params, token, request.headers.get(signature.HEADER)):
        current_app.logger.warning("SMS webhook refused: bad signature for %s", url)
        return _refuse(403, f"invalid {signature.HEADER}")
    message_sid = (request.form.get("MessageSid") or request.form.get("SmsSid") or "").strip()
    sender = (request.form.get("From") or "").strip()
    if not message_sid or not sender:
        return _refuse(400, "From and MessageSid are required")
    body = request.form.get("Body", "")
    session = db_session()
    if not sms.parse_command(body).bypasses_limits:  # STOP, START and HELP always go through
        try:
            limits.check("sms_phone", sender)
        except limits.RateLimited as exc:
            return _limited(session, sender, exc)
    with one_writer(session):
        try:
            result = sms.handle_message(
                db_session=session,
                sender=sender,
                body=body,
                message_sid=message_sid,
                city=config["CITY"],
                default_language=config["DEFAULT_LANGUAGE"],
                default_region=config["DEFAULT_COUNTRY_CODE"],
                tracking_prefix=config["TRACKING_PREFIX"],
                services_dir=config["SERVICES_DIR"],
                timezone=config["TIMEZONE"],
                dialogue_minutes=config["SMS_DIALOGUE_MINUTES"],
            )
            session.commit()
        except InvalidInput as exc:
            session.rollback()
            return _refuse(400, str(exc))
        except IntegrityError:
            # The same MessageSid, processed by a concurrent request: answer what it answered.
            session.rollback()
            result = sms.stored_reply(db_session=session, message_sid=message_sid)
            if result is None:
                raise
    return twiml(result.reply)
