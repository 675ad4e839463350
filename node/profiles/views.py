"""The citizen's account: sign-up, sign-in, history, preferences and consent, export, erasure."""

import json
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from node.auth import Principal, citizen_required, current_citizen, safe_next
from node.cases import service as cases
from node.cases.schemas import Actor
from node.database import db_session
from node.display import field_message
from node.errors import InvalidInput
from node.profiles import service
from node.profiles.forms import (
    LANGUAGE_NAMES,
    CitizenLoginForm,
    EraseForm,
    ExportForm,
    PreferencesForm,
    SignupForm,
)
from node.profiles.schemas import PROFILE_FIELDS
from node.staff.service import hash_password, password_matches

bp = Blueprint("account", __name__, url_prefix="/account")


def _with_choices(form: PreferencesForm) -> PreferencesForm:
    config = current_app.config
    form.language.choices = [
        SelectChoice(code, LANGUAGE_NAMES.get(code, code)) for code in config["LANGUAGES"]
    ]
    form.district.choices = [SelectChoice("", "—")] + [
        SelectChoice(d, d) for d in config["DISTRICTS"]
    ]
    return form


def _profile_values(form: PreferencesForm) -> dict[str, Any]:
    return {field: getattr(form, field).data for field in PROFILE_FIELDS}


def _place_errors(form: Any, exc: InvalidInput) -> None:
    for name, message in exc.fields.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, field_message(message)]
        else:
            flash(str(exc), "error")


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Any:
    """Open a citizen account."""
    form = _with_choices(SignupForm())
    if request.method == "GET":
        form.language.data = str(get_locale())
        form.consent_contact.data = True
    if form.validate_on_submit():
        session = db_session()
        try:
            data = service.parse_citizen(
                _profile_values(form), default_region=current_app.config["DEFAULT_COUNTRY_CODE"]
            )
            citizen = service.create_citizen(
                db_session=session,
                data=data,
                actor=Actor.citizen(),
                password_hash=hash_password(form.password.data),
                channel="web",
            )
        except InvalidInput as exc:
            session.rollback()
            _place_errors(form, exc)
        else:
            session.commit()
            login_user(Principal(citizen=citizen))
            flash(_("Welcome! Your account is ready."), "success")
            return redirect(url_for("account.home"))
    status = 422 if form.errors else 200
    return render_template("account/signup.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign a citizen in."""
    form = CitizenLoginForm()
    if form.validate_on_submit():
        citizen = service.find_by_contact(db_session=db_session(), email=form.email.data)
        if citizen is not None and password_matches(citizen.password_hash, form.password.data):
            login_user(Principal(citizen=citizen))
            return redirect(safe_next(request.args.get("next"), url_for("account.home")))
        form.password.errors = [_("Wrong e-mail or password.")]
    status = 401 if form.is_submitted() else 200
    return render_template("account/login.html", form=form), status


@bp.post("/logout")
def logout() -> Response:
    """Sign out."""
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("portal.index"))


@bp.get("/")
@citizen_required
def home() -> str:
    """The citizen's requests and everything the archive holds about them."""
    citizen = current_citizen()
    return render_template(
        "account/home.html",
        citizen=citizen,
        cases=cases.citizen_cases(db_session=db_session(), citizen_id=citizen.id),
        history=cases.citizen_history(db_session=db_session(), citizen_id=citizen.id),
        public_kinds=cases.PUBLIC_EVENTS,
        export_form=ExportForm(),
    )


@bp.route("/preferences", methods=["GET", "POST"])
@citizen_required
def preferences() -> Any:
    """Change one's contact, language, preferred channel and consent."""
    citizen = current_citizen()
    form = _with_choices(PreferencesForm(obj=citizen))
    if form.validate_on_submit():
        session = db_session()
        try:
            data = service.parse_citizen(
                _profile_values(form), default_region=current_app.config["DEFAULT_COUNTRY_CODE"]
            )
            changed = service.update_citizen(
                db_session=session, citizen=citizen, data=data, actor=Actor.citizen(), channel="web"
            )
        except InvalidInput as exc:
            session.rollback()
            _place_errors(form, exc)
        else:
            session.commit()
            if changed:
                flash(_("Your preferences were saved."), "success")
            else:
                flash(_("Nothing to change."), "info")
            return redirect(url_for("account.preferences"))
    status = 422 if form.errors else 200
    return render_template("account/preferences.html", form=form), status


@bp.post("/export")
@citizen_required
def export() -> Response:
    """Download everything the node holds about the citizen, as JSON."""
    form = ExportForm()
    if not form.validate_on_submit():
        flash(_("Please try again."), "error")
        return redirect(url_for("account.home"))
    citizen = current_citizen()
    data = service.export_citizen(
        db_session=db_session(), citizen_id=citizen.id, actor=Actor.citizen()
    )
    db_session().commit()
    body = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="my-data-{citizen.id}.json"'},
    )


@bp.route("/erase", methods=["GET", "POST"])
@citizen_required
def erase() -> Any:
    """Erase the citizen's profile after they confirm it with their password."""
    citizen = current_citizen()
    form = EraseForm()
    if form.validate_on_submit():
        if not password_matches(citizen.password_hash, form.password.data):
            form.password.errors = [_("The password is wrong.")]
        else:
            service.erase_citizen(
                db_session=db_session(), citizen_id=citizen.id, actor=Actor.citizen()
            )
            db_session().commit()
            logout_user()
            flash(
                _("Your profile was erased. Your past requests stay on record without your name."),
                "success",
            )
            return redirect(url_for("portal.index"))
    status = 422 if form.errors else 200
    return render_template("account/erase.html", form=form), status
