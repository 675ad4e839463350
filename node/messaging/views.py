"""The portal inbox: the messages a signed-in citizen reads on their account page."""

from flask import Blueprint

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
