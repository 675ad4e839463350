"""POST /email/inbound: a mail service hands over one raw RFC 5322 message, with a bearer token;
and the back office's quarantine, where supervisors look at mail the node could not place and
release or replay it, and where staff read the original of a message on a case."""

import hmac
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    has_app_context,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from node.auth import current_staff, staff_required
from node.cases import service as cases
from node.cases.schemas import Actor
from node.cases.service import CASE_CHANGED
from node.database import db_session
from node.errors import Conflict, InvalidInput, NotFound
from node.intake import limits
from node.intake.email import archive
from node.intake.email import service as mail
from node.intake.email.models import ArchivedMail
from node.intake.email.parsing import Unreadable, parse_mail
from node.intake.open311.views import one_writer
from node.messaging.models import QuarantinedMessage
from node.services import service as catalogue
from node.staff.models import Role

bp = Blueprint("email", __name__, url_prefix="/email")
office_bp = Blueprint("quarantine", __name__)

STATUS = {"opened": 201, "joined": 200, "duplicate": 200, "automatic": 200, "quarantined": 422}
SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)


def settings_of_app() -> mail.MailSettings:
    """The mail settings of the current app."""
    return mail.MailSettings.from_config(current_app.config, Path(current_app.instance_path))


def announce(session: Session, result: mail.MailResult) -> None:
    """Before the commit: the case the message opened or joined changed, so its receipt goes."""
    if result.case_id is not None:
        CASE_CHANGED(db_session=session, case_id=result.case_id)


def forget_erased(*, db_session: Session, citizen_id: int) -> None:
    """An erased citizen's raw messages go with them (connected to the erasure hook); erased
    where no app is at hand, their files go at the next `prune`."""
    settings = settings_of_app() if has_app_context() else None
    archive.forget_citizen(db_session=db_session, citizen_id=citizen_id, settings=settings)


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
    scheme, _space, credentials = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        credentials.strip().encode(), str(token).encode()
    ):
        return _error(401, "unauthorized", "send Authorization: Bearer <EMAIL_WEBHOOK_TOKEN>")
    settings = settings_of_app()
    limit = settings.max_message_bytes
    if request.content_length is not None and request.content_length > limit:
        return _error(413, "too_large", f"messages are limited to {limit} bytes")
    limits.check("email_address", limits.remote_address())
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        return _error(413, "too_large", f"messages are limited to {limit} bytes")
    limits.check("email_sender", mail.sender_of(raw))
    session = db_session()
    recipients = tuple(request.args.getlist("recipient"))
    with one_writer(session):
        result = mail.ingest(
            db_session=session, raw=raw, settings=settings, envelope_recipients=recipients
        )
        announce(session, result)
        try:
            session.commit()
        except IntegrityError:
            # The same message, delivered twice at once, was kept by the other request.
            session.rollback()
            mail.discard_files(result, settings)
            result = mail.ingest(
                db_session=session, raw=raw, settings=settings, envelope_recipients=recipients
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
    elif result.quarantine_id is not None:  # automatic, about no case: kept, nothing to fix
        body |= {"reason": result.reason, "quarantine_id": result.quarantine_id}
    else:
        body["attachments"] = len(result.attachments)
    response = jsonify(body)
    response.status_code = STATUS[result.outcome]
    return response


# ------------------------------------------------------------------ the back office


@office_bp.get("/office/quarantine")
@staff_required(*SUPERVISORS)
def quarantine_list() -> str:
    """The quarantined messages, those waiting for a person first."""
    show_all = request.args.get("all") == "1"
    rows = archive.quarantined(db_session=db_session(), limit=200, waiting=not show_all)
    return render_template("office/quarantine.html", rows=rows, show_all=show_all)


def _row(message_id: int) -> QuarantinedMessage:
    row = db_session().get(QuarantinedMessage, message_id)
    if row is None:
        abort(404)
    return row


@office_bp.get("/office/quarantine/<int:message_id>")
@staff_required(*SUPERVISORS)
def quarantine_message(message_id: int) -> str:
    """One quarantined message: why, what it says, its files, and what may be done with it."""
    row = _row(message_id)
    settings = settings_of_app()
    parsed = problem = None
    try:
        raw = settings.absolute(row.path).read_bytes()
        parsed = parse_mail(
            raw,
            envelope_recipients=tuple(row.envelope_recipients or ()),
            languages=settings.languages,
        )
    except OSError as exc:
        problem = _("The file of this message cannot be read: %(error)s", error=exc)
    except Unreadable as exc:
        problem = str(exc)
    services = [s for s in catalogue.list_active(db_session=db_session()) if "email" in s.channels]
    return render_template(
        "office/quarantine_message.html",
        row=row,
        mail=parsed,
        problem=problem,
        services=services,
    )


@office_bp.get("/office/quarantine/<int:message_id>/raw")
@staff_required(*SUPERVISORS)
def quarantine_raw(message_id: int) -> Response:
    """The quarantined message as it came, to open in a mail program."""
    row = _row(message_id)
    path = settings_of_app().absolute(row.path)
    if not path.is_file():
        abort(404, "the file is no longer in the instance folder")
    return send_file(
        path.resolve(), mimetype="message/rfc822", as_attachment=True, download_name=path.name
    )


def _take_again(message_id: int, action: str) -> Response:
    session = db_session()
    actor = Actor.of_staff(current_staff())
    with one_writer(session):
        try:
            if action == "release":
                result = mail.release(
                    db_session=session,
                    quarantine_id=message_id,
                    settings=settings_of_app(),
                    actor=actor,
                    service_code=request.form.get("service") or None,
                    case_code=(request.form.get("case") or "").strip() or None,
                )
            else:
                result = mail.replay(
                    db_session=session,
                    quarantine_id=message_id,
                    settings=settings_of_app(),
                    actor=actor,
                )
            announce(session, result)
            session.commit()
        except (Conflict, InvalidInput, NotFound) as exc:
            session.rollback()
            flash(str(exc), "error")
            return redirect(url_for("quarantine.quarantine_message", message_id=message_id))
    if result.outcome in ("quarantined", "automatic") and result.case_id is None:
        flash(_("Still not placed: %(reason)s", reason=result.reason), "error")
        return redirect(url_for("quarantine.quarantine_message", message_id=message_id))
    flash(
        _(
            "Message %(id)s: %(outcome)s %(code)s.",
            id=message_id,
            outcome=result.outcome,
            code=result.tracking_code or "",
        ),
        "success",
    )
    return redirect(url_for("quarantine.quarantine_list"))


@office_bp.post("/office/quarantine/<int:message_id>/release")
@staff_required(*SUPERVISORS)
def quarantine_release(message_id: int) -> Response:
    """Accept the message as a citizen's: open a case in the chosen service or join a case."""
    return _take_again(message_id, "release")


@office_bp.post("/office/quarantine/<int:message_id>/replay")
@staff_required(*SUPERVISORS)
def quarantine_replay(message_id: int) -> Response:
    """Run the message through intake again, after a fix."""
    return _take_again(message_id, "replay")


@office_bp.get("/office/cases/<int:case_id>/mail/<int:archived_id>")
@staff_required()
def archived_mail(case_id: int, archived_id: int) -> Response:
    """The original of a message on a case the staff member may see, as it came."""
    case = cases.get_for_staff(db_session=db_session(), case_id=case_id, staff=current_staff())
    row = db_session().get(ArchivedMail, archived_id)
    if row is None or row.case_id != case.id:
        abort(404)
    path = settings_of_app().absolute(row.path)
    if row.pruned_at is not None or not path.is_file():
        abort(404, "the original message is no longer kept")
    return send_file(
        path.resolve(),
        mimetype="message/rfc822",
        as_attachment=True,
        download_name=f"{case.tracking_code}-{row.id}.eml",
    )
