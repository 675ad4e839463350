"""Messages on the web pages: the citizen's portal inbox, and files that came with e-mails."""

from pathlib import Path

from flask import Blueprint, abort, current_app, send_file
from werkzeug.wrappers import Response

from node.auth import current_staff, staff_required
from node.cases import service as cases
from node.cases.models import Event
from node.database import db_session
from node.messaging import service as messaging
from node.messaging.models import Notification
from node.profiles.models import Citizen

bp = Blueprint("messaging", __name__)


@bp.app_template_global()
def portal_inbox(citizen: Citizen | None) -> list[Notification]:
    """The citizen's portal messages, newest first, for the account page."""
    if citizen is None:
        return []
    return messaging.inbox(db_session=db_session(), citizen_id=citizen.id)


@bp.get("/office/cases/<int:case_id>/attachments/<int:event_id>/<int:index>")
@staff_required()
def attachment(case_id: int, event_id: int, index: int) -> Response:
    """Download a file that came with a message on a case the staff member may see."""
    case = cases.get_for_staff(db_session=db_session(), case_id=case_id, staff=current_staff())
    event = db_session().get(Event, event_id)
    files = (event.data.get("attachments") or []) if event and event.case_id == case.id else []
    if not 0 <= index < len(files):
        abort(404)
    kept = files[index]
    path = Path(current_app.instance_path) / kept["path"]
    if not path.is_file():
        abort(404, "the file is no longer in the instance folder")
    # Always a download: a sender's HTML or SVG must never run in the back office's origin.
    return send_file(
        path.resolve(),
        mimetype=kept.get("content_type") or "application/octet-stream",
        as_attachment=True,
        download_name=kept.get("name") or path.name,
    )
