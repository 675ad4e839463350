"""The back office's page of usage segments: what each cluster of citizens is like."""

from flask import Blueprint, render_template

from evaluation.usage import CITIZEN_USAGE_FEATURES
from node.auth import staff_required
from node.database import db_session
from node.staff.models import Role
from node.usage import service as usage

bp = Blueprint("usage", __name__, url_prefix="/office")


@bp.get("/usage")
@staff_required(Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)
def segments() -> str:
    """Every usage segment with its size and the mean figures of its citizens."""
    return render_template(
        "office/usage.html",
        clusters=usage.clusters(db_session=db_session()),
        features=CITIZEN_USAGE_FEATURES,
    )
