"""The citizen's account: sign-up, sign-in, history, preferences and consent, export, erasure."""

import json
from collections.abc import Callable
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
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from node.auth import (
    Principal,
    citizen_required,
    current_citizen,
    current_staff,
    end_sessions,
    safe_next,
    staff_required,
)
from node.cases import service as cases
from node.cases.schemas import Actor
from node.database import db_session
from node.display import place_errors
from node.errors import Conflict, InvalidInput
from node.profiles import identity, service
from node.profiles.forms import (
    CitizenLoginForm,
    ConfirmForm,
    EraseForm,
    ExportForm,
    NewPasswordForm,
    PhoneCodeForm,
    PreferencesForm,
    ResetRequestForm,
    SignupForm,
    with_node_choices,
)
from node.profiles.models import VerificationPurpose
from node.profiles.schemas import PROFILE_FIELDS
from node.staff.models import Role
from node.staff.service import hash_password, password_matches

bp = Blueprint("account", __name__, url_prefix="/account")

# How the account pages send a link or a code: the app factory puts a function here that sends
# through the messaging adapters (which sit above profiles), raising Conflict when it cannot.
SENDER = "carmen.node.profiles.sender"
Sender = Callable[..., None]  # called with kind=, to=, subject=, body=, language=


def _send(*, kind: str, to: str, subject: str, body: str, language: str) -> None:
    current_app.extensions[SENDER](kind=kind, to=to, subject=subject, body=body, language=language)


def _send_link(*, to: str, token: str, language: str, purpose: VerificationPurpose) -> None:
    """E-mail a verification or reset link, in the citizen's language."""
    city = current_app.config["CITY"]
    link = f"{current_app.config['PUBLIC_URL']}/account/verify/{token}"
    with force_locale(language):
        if purpose is VerificationPurpose.RESET:
            subject = _("%(city)s: choose a new password", city=city)
            body = _(
                "Someone asked to choose a new password for your account with %(city)s. If it "
                "was you, open this link within 24 hours:\n\n%(link)s\n\nIf it was not, "
                "ignore this message: your password stays as it is.",
                city=city,
                link=link,
            )
        else:
            subject = _("%(city)s: confirm your e-mail address", city=city)
            body = _(
                "Open this link within 24 hours to confirm that this e-mail address is yours:"
                "\n\n%(link)s\n\nThe requests you sent to %(city)s with it then appear in "
                "your account. If you did not ask for this, ignore this message.",
                city=city,
                link=link,
            )
    _send(kind="email", to=to, subject=subject, body=body, language=language)


def _send_code(*, to: str, code: str, language: str) -> None:
    """Text a phone's verification code."""
    city = current_app.config["CITY"]
    with force_locale(language):
        body = _(
            "%(city)s: your confirmation code is %(code)s. It is valid for 15 minutes.",
            city=city,
            code=code,
        )
    _send(kind="phone", to=to, subject="", body=body, language=language)


def _profile_values(form: PreferencesForm) -> dict[str, Any]:
    return {field: getattr(form, field).data for field in PROFILE_FIELDS}


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Any:
    """Open a citizen account: it exists once the e-mail is verified through the link sent."""
    form = with_node_choices(SignupForm(), current_app.config)
    if request.method == "GET":
        form.language.data = str(get_locale())
        form.consent_contact.data = True
    if form.validate_on_submit():
        session = db_session()
        try:
            data = service.parse_citizen(
                _profile_values(form), default_region=current_app.config["DEFAULT_COUNTRY_CODE"]
            )
            token = identity.start_signup(
                db_session=session, data=data, password_hash=hash_password(form.password.data)
            )
            _send_link(
                to=data.email,
                token=token,
                language=data.language,
                purpose=VerificationPurpose.SIGNUP,
            )
        except InvalidInput as exc:
            session.rollback()
            place_errors(form, exc)
        except Conflict:
            session.rollback()
            flash(_("The e-mail could not be sent. Please try again later."), "error")
        else:
            session.commit()
            return render_template("account/check_mail.html", email=data.email)
    status = 422 if form.errors else 200
    return render_template("account/signup.html", form=form), status


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify(token: str) -> Any:
    """Use a link sent by e-mail: confirm an address, or go on to choose a new password."""
    session = db_session()
    verification = identity.pending(db_session=session, token=token)
    if verification.purpose is VerificationPurpose.RESET:
        return redirect(url_for("account.new_password", token=token))
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            outcome = identity.confirm_link(db_session=session, token=token)
        except Conflict as exc:
            session.rollback()
            flash(str(exc), "error")
            return redirect(url_for("portal.index"))
        if outcome.already_registered:
            session.commit()
            flash(
                _(
                    "You already have an account with this e-mail: sign in, or choose a new "
                    "password."
                ),
                "info",
            )
            return redirect(url_for("account.login"))
        citizen = outcome.citizen
        if outcome.phone_code:
            try:
                _send_code(
                    to=identity.pending_phone(db_session=session, citizen=citizen).address,
                    code=outcome.phone_code,
                    language=citizen.language,
                )
            except Conflict:
                flash(_("The SMS with your code could not be sent: ask for a new one."), "error")
        session.commit()
        if outcome.purpose is VerificationPurpose.SIGNUP:
            login_user(Principal(citizen=citizen))
            flash(_("Welcome! Your account is ready."), "success")
        else:
            flash(_("Your e-mail address is confirmed."), "success")
        if outcome.claimed_cases:
            flash(_("Your earlier requests are now in your account."), "info")
        return redirect(url_for("account.home"))
    return render_template("account/verify.html", form=form, verification=verification)


@bp.route("/reset", methods=["GET", "POST"])
def reset() -> Any:
    """Ask for a link to choose a new password; the answer never says whether an account exists."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        session = db_session()
        email = form.email.data.strip().lower()
        token = identity.start_reset(db_session=session, email=email)
        if token is not None:
            citizen = service.find_by_contact(db_session=session, email=email)
            try:
                _send_link(
                    to=citizen.email,
                    token=token,
                    language=citizen.language,
                    purpose=VerificationPurpose.RESET,
                )
            except Conflict:
                current_app.logger.warning("a password-reset link could not be sent")
        session.commit()
        return render_template("account/check_mail.html", email=email, reset=True)
    status = 422 if form.errors else 200
    return render_template("account/reset.html", form=form), status


@bp.route("/reset/<token>", methods=["GET", "POST"])
def new_password(token: str) -> Any:
    """Choose a new password from a reset link; every earlier session ends."""
    session = db_session()
    identity.pending(db_session=session, token=token)
    form = NewPasswordForm()
    if form.validate_on_submit():
        identity.confirm_link(
            db_session=session, token=token, password_hash=hash_password(form.password.data)
        )
        session.commit()
        logout_user()
        flash(_("Your password was changed: sign in with it."), "success")
        return redirect(url_for("account.login"))
    status = 422 if form.errors else 200
    return render_template("account/new_password.html", form=form), status


@bp.route("/phone", methods=["GET", "POST"])
@citizen_required
def phone() -> Any:
    """Type the code sent by SMS to the phone being added to the account."""
    citizen = current_citizen()
    session = db_session()
    waiting = identity.pending_phone(db_session=session, citizen=citizen)
    form = PhoneCodeForm()
    if form.validate_on_submit():
        try:
            claimed = identity.confirm_code(
                db_session=session, citizen=citizen, code=form.code.data
            )
        except InvalidInput:
            session.commit()  # the attempt counts
            form.code.errors = [_("This code is wrong.")]
        except Conflict as exc:
            session.rollback()
            form.code.errors = [str(exc)]
        else:
            session.commit()
            flash(_("Your phone number is confirmed."), "success")
            if claimed:
                flash(_("Your earlier requests are now in your account."), "info")
            return redirect(url_for("account.home"))
    status = 422 if form.errors else 200
    return render_template("account/phone.html", form=form, waiting=waiting), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign a citizen in."""
    form = CitizenLoginForm()
    if form.validate_on_submit():
        citizen = service.find_by_contact(db_session=db_session(), email=form.email.data)
        # A hash is checked for an unknown e-mail too (a dummy one): the same work either way.
        stored = citizen.password_hash if citizen is not None else None
        if password_matches(stored, form.password.data):
            login_user(Principal(citizen=citizen))
            return redirect(safe_next(request.args.get("next"), url_for("account.home")))
        form.password.errors = [_("Wrong e-mail or password.")]
    status = 401 if form.is_submitted() else 200
    return render_template("account/login.html", form=form), status


@bp.post("/logout")
def logout() -> Response:
    """Sign out, here and in every other session of the account."""
    citizen = current_citizen()
    if citizen is not None:
        end_sessions(citizen)
        db_session().commit()
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
        pending_phone=identity.pending_phone(db_session=db_session(), citizen=citizen),
    )


@bp.route("/preferences", methods=["GET", "POST"])
@citizen_required
def preferences() -> Any:
    """Change one's language, preferred channel and consent; a new contact is verified first."""
    citizen = current_citizen()
    form = with_node_choices(PreferencesForm(obj=citizen), current_app.config)
    if form.validate_on_submit():
        session = db_session()
        try:
            data = service.parse_citizen(
                _profile_values(form), default_region=current_app.config["DEFAULT_COUNTRY_CODE"]
            )
            new_email = data.email if data.email != citizen.email else None
            new_phone = data.phone if data.phone and data.phone != citizen.phone else None
            # A contact is set only once verified; removing the phone needs no proof.
            kept = {"email": citizen.email}
            if new_phone:
                kept["phone"] = citizen.phone
            changed = service.update_citizen(
                db_session=session,
                citizen=citizen,
                data=data.model_copy(update=kept),
                actor=Actor.citizen(),
                channel="web",
            )
            if new_email:
                token = identity.start_contact_change(
                    db_session=session, citizen=citizen, kind="email", address=new_email
                )
                _send_link(
                    to=new_email,
                    token=token,
                    language=citizen.language,
                    purpose=VerificationPurpose.CONTACT,
                )
            if new_phone:
                code = identity.start_contact_change(
                    db_session=session, citizen=citizen, kind="phone", address=new_phone
                )
                _send_code(to=new_phone, code=code, language=citizen.language)
        except InvalidInput as exc:
            session.rollback()
            place_errors(form, exc)
        except Conflict:
            session.rollback()
            flash(_("The message to confirm your new contact could not be sent."), "error")
        else:
            session.commit()
            if new_email:
                flash(
                    _("Open the link we sent to %(email)s to confirm it.", email=new_email), "info"
                )
            if changed:
                flash(_("Your preferences were saved."), "success")
            elif not (new_email or new_phone):
                flash(_("Nothing to change."), "info")
            if new_phone:
                return redirect(url_for("account.phone"))
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
    return _json_download(data, f"my-data-{citizen.id}.json")


def _json_download(data: dict, filename: str) -> Response:
    body = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
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


privacy_bp = Blueprint("privacy", __name__, url_prefix="/office/privacy")


@privacy_bp.get("/")
@staff_required(Role.PRIVACY)
def subjects() -> Any:
    """Find a data subject, with or without an account, by e-mail or phone."""
    email, phone = request.args.get("email", ""), request.args.get("phone", "")
    found, error = None, None
    if email or phone:
        try:
            found = service.find_subjects(
                db_session=db_session(),
                email=email,
                phone=phone,
                default_region=current_app.config["DEFAULT_COUNTRY_CODE"],
            )
        except InvalidInput as exc:
            error = str(exc)
    return render_template(
        "office/privacy.html",
        found=found,
        error=error,
        email=email,
        phone=phone,
        form=ExportForm(),
        cases=cases,
    ), (422 if error else 200)


@privacy_bp.post("/<int:citizen_id>/export")
@staff_required(Role.PRIVACY)
def subject_export(citizen_id: int) -> Response:
    """Download everything the node holds about one person, as JSON (an archive event)."""
    if not ExportForm().validate_on_submit():
        flash(_("Please try again."), "error")
        return redirect(url_for("privacy.subjects"))
    data = service.export_citizen(
        db_session=db_session(), citizen_id=citizen_id, actor=Actor.of_staff(current_staff())
    )
    db_session().commit()
    return _json_download(data, f"subject-{citizen_id}.json")


@privacy_bp.post("/<int:citizen_id>/erase")
@staff_required(Role.PRIVACY)
def subject_erase(citizen_id: int) -> Response:
    """Erase one person's data (an archive event); their requests stay, without them."""
    if not ExportForm().validate_on_submit():
        flash(_("Please try again."), "error")
        return redirect(url_for("privacy.subjects"))
    unlinked = service.erase_citizen(
        db_session=db_session(), citizen_id=citizen_id, actor=Actor.of_staff(current_staff())
    )
    db_session().commit()
    flash(
        _("The person's data was erased; %(n)d requests stay without them.", n=unlinked), "success"
    )
    return redirect(url_for("privacy.subjects"))
