"""Consultation pages: the citizen's question page on the portal, and staff's open and close."""

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from node.auth import current_citizen, current_staff, staff_required
from node.cases.schemas import Actor
from node.consultations import service
from node.consultations.models import Consultation, Participation
from node.database import db_session
from node.errors import Conflict, Forbidden, InvalidInput
from node.messaging.tasks import current_adapters
from node.services import service as catalogue
from node.staff.models import Role

bp = Blueprint("consultations", __name__)


def _page(code: str, *, error: str | None = None, status: int = 200, done: str | None = None):
    session = db_session()
    svc = catalogue.get(db_session=session, code=code)
    if not service.is_consultation(svc):
        return redirect(url_for("portal.new_request", code=code))
    consultation = service.for_service(db_session=session, service_code=code)
    citizen = current_citizen()
    language = str(get_locale())
    context: dict[str, Any] = {
        "service": svc,
        "consultation": consultation,
        "citizen": citizen,
        "error": error,
        "done": done,
    }
    if consultation is not None:
        context |= {
            "names": service.option_names(consultation, language),
            "question": service.question_in(consultation, svc, language),
            "results": service.published_results(db_session=session, consultation=consultation),
            "results_on": service.results_on(consultation),
            "texts": service.texts_of(consultation).table(language),
            "participated": citizen is not None
            and service.has_participated(
                db_session=session, consultation=consultation, citizen=citizen
            ),
            "verified": service.verified_contacts(db_session=session, citizen=citizen)
            if citizen
            else set(),
        }
    return render_template("consultations/page.html", **context), status


@bp.get("/consultations/<code>")
def page(code: str) -> Any:
    """The question, its options and, once it is closed, the results."""
    return _page(code, done=request.args.get("done"))


@bp.post("/consultations/<code>")
def participate(code: str) -> Any:
    """Take part once; a refusal says why and stores nothing."""
    session = db_session()
    consultation = service.for_service(db_session=session, service_code=code)
    if consultation is None:
        return _page(code, error=_("This consultation has not opened yet."), status=409)
    try:
        thanks = service.participate(
            db_session=session,
            consultation=consultation,
            citizen=current_citizen(),
            option=request.form.get("option", ""),
            channel="web",
            language=str(get_locale()),
        )
        session.commit()
    except (InvalidInput, Forbidden, Conflict) as exc:
        session.rollback()
        status = {InvalidInput: 422, Forbidden: 403, Conflict: 409}[type(exc)]
        return _page(code, error=str(exc), status=status)
    flash(thanks, "success")
    return redirect(url_for("consultations.page", code=code))


@bp.post("/consultations/<code>/code")
def send_code(code: str) -> Any:
    """Send a one-time code to the signed-in citizen's phone or e-mail."""
    citizen = current_citizen()
    if citizen is None:
        return redirect(url_for("account.login", next=url_for("consultations.page", code=code)))
    session = db_session()
    try:
        service.send_contact_code(
            db_session=session,
            citizen=citizen,
            kind=request.form.get("kind", ""),
            adapters=current_adapters(),
            city=current_app.config["CITY"],
        )
        session.commit()
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return _page(code, error=str(exc), status=422 if isinstance(exc, InvalidInput) else 409)
    flash(_("We sent you a code: enter it below."), "info")
    return redirect(url_for("consultations.page", code=code))


@bp.post("/consultations/<code>/confirm")
def confirm_code(code: str) -> Any:
    """Confirm a contact with the code it received."""
    citizen = current_citizen()
    if citizen is None:
        return redirect(url_for("account.login", next=url_for("consultations.page", code=code)))
    session = db_session()
    try:
        service.confirm_contact_code(
            db_session=session, citizen=citizen, code=request.form.get("code", "")
        )
    except InvalidInput as exc:
        session.commit()  # the failed attempt counts, so codes cannot be guessed for free
        return _page(code, error=str(exc), status=422)
    except Conflict as exc:
        session.rollback()
        return _page(code, error=str(exc), status=409)
    session.commit()
    flash(_("Thank you: your contact is confirmed."), "success")
    return redirect(url_for("consultations.page", code=code))


@bp.get("/office/consultations")
@staff_required(Role.SUPERVISOR, Role.ADMIN)
def office() -> str:
    """Every consultation service, whether it is open, how many took part, and its results."""
    session = db_session()
    rows = []
    for svc in service.consultation_services(db_session=session):
        consultation = service.for_service(db_session=session, service_code=svc.code)
        taken = 0
        if consultation is not None:
            taken = session.scalar(
                sa.select(sa.func.count())
                .select_from(Participation)
                .where(Participation.consultation_id == consultation.id)
            )
        results = (
            service.published_results(db_session=session, consultation=consultation)
            if consultation
            else None
        )
        rows.append((svc, consultation, taken, results))
    return render_template("consultations/office.html", rows=rows)


def _services_dir() -> Path:
    return current_app.config["SERVICES_DIR"]


@bp.post("/office/consultations/<code>/open")
@staff_required(Role.SUPERVISOR, Role.ADMIN)
def open_(code: str) -> Response:
    """Open a service's consultation with the rules of its settings.toml."""
    session = db_session()
    try:
        service.open_consultation(
            db_session=session,
            service_code=code,
            services_dir=_services_dir(),
            timezone=current_app.config["TIMEZONE"],
            actor=Actor.of_staff(current_staff()),
        )
        session.commit()
        flash(_("The consultation is open."), "success")
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("consultations.office"))


@bp.post("/office/consultations/<code>/close")
@staff_required(Role.SUPERVISOR, Role.ADMIN)
def close(code: str) -> Response:
    """Close a consultation after its last day and publish its results."""
    session = db_session()
    consultation: Consultation | None = service.for_service(db_session=session, service_code=code)
    try:
        if consultation is None:
            raise Conflict(_("This consultation has not opened yet."))
        service.close_consultation(
            db_session=session, consultation=consultation, actor=Actor.of_staff(current_staff())
        )
        session.commit()
        flash(_("The consultation is closed and its results are published."), "success")
    except Conflict as exc:
        session.rollback()
        flash(str(exc), "error")
    return redirect(url_for("consultations.office"))
