"""POST /email/inbound: a mail service hands over one raw RFC 5322 message, with a bearer token."""

import hmac
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request

from node.database import db_session
from node.intake import limits
from node.intake.email import service as mail
from node.intake.open311.views import one_writer

bp = Blueprint("email", __name__, url_prefix="/email")

STATUS = {"opened": 201, "joined": 200, "duplicate": 200, "quarantined": 422}


def _error(status: int, error: str, message: str) -> Response:
    response = jsonify({"error": error, "message": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="carmen-email"'
    return response


@bp.post("/inbound")
def inbound() -> Response:
    """Take one message; the JSON answer says whether it opened or joined a case, or why not."""
    config = current_app.config
    token = config["EMAIL_WEBHOOK_TOKEN"]
    if not token:
        return _error(403, "disabled", "the e-mail webhook is off: set EMAIL_WEBHOOK_TOKEN")
    given = request.headers.get("Authorization", "")
    scheme, _, credentials = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        credentials.strip().encode(), str(token).encode()
    ):
        return _error(401, "unauthorized", "send Authorization: Bearer <EMAIL_WEBHOOK_TOKEN>")
    settings = mail.MailSettings.from_config(config, Path(current_app.instance_path))
    limit = settings.max_message_bytes
    if request.content_length is not None and request.content_length > limit:
        return _error(413, "too_large", f"messages are limited to {limit} bytes")
    limits.check("email_address", limits.remote_address())
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        return _error(413, "too_large", f"messages are limited to {limit} bytes")
    limits.check("email_sender", mail.sender_of(raw))
    session = db_session()
    with one_writer(session):
        result = mail.ingest(
            db_session=session,
            raw=raw,
            settings=settings,
            envelope_recipients=tuple(request.args.getlist("recipient")),
        )
        session.commit()
    body = {"outcome": result.outcome, "tracking_code": result.tracking_code}
    if result.outcome == "quarantined":
        body |= {
            "error": "quarantined",
            "message": f"the message was kept aside for staff: {result.reason}",
            "reason": result.reason,
            "quarantine_id": result.quarantine_id,
        }
    else:
        body["attachments"] = len(result.attachments)
    response = jsonify(body)
    response.status_code = STATUS[result.outcome]
    return response
