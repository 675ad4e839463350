"""Back-office sign-in, password change and the staff list."""

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from node.auth import Principal, current_staff, end_sessions, safe_next, staff_required
from node.database import db_session
from node.display import field_message
from node.errors import Conflict, InvalidInput
from node.staff import service
from node.staff.forms import (
    ActionForm,
    ChangePasswordForm,
    NewPasswordForm,
    ResetRequestForm,
    StaffLoginForm,
)
from node.staff.models import Role

bp = Blueprint("office", __name__, url_prefix="/office")

# How a reset link is e-mailed: the app factory puts a function here that sends through the
# messaging adapters (which sit above staff), raising Conflict when it cannot.
SENDER = "carmen.node.staff.sender"


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """Sign a staff member in."""
    form = StaffLoginForm()
    if form.validate_on_submit():
        user = service.authenticate(
            db_session=db_session(), email=form.email.data, password=form.password.data
        )
        if user is None:
            form.password.errors = [_("Wrong e-mail or password.")]
        else:
            login_user(Principal(staff=user))
            if user.must_change_password:
                return redirect(url_for("office.password"))
            return redirect(safe_next(request.args.get("next"), url_for("cases.queue")))
    status = 401 if form.is_submitted() else 200
    return render_template("office/login.html", form=form), status


@bp.post("/logout")
def logout() -> Response:
    """Sign out, here and in every other session of the account."""
    user = current_staff()
    if user is not None:
        end_sessions(user)
        db_session().commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("office.login"))


@bp.route("/reset", methods=["GET", "POST"])
def reset() -> Any:
    """Ask for a password-reset link; the answer never says whether the account exists."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        found = service.start_reset(
            db_session=db_session(), email=email, secret_key=current_app.config["SECRET_KEY"]
        )
        if found is not None:
            user, token = found
            try:
                _send_reset_link(user.email, token, user.language)
            except Conflict:
                current_app.logger.warning("a staff password-reset link could not be sent")
        return render_template("office/reset_sent.html", email=email)
    status = 422 if form.errors else 200
    return render_template("office/reset.html", form=form), status


def _send_reset_link(to: str, token: str, language: str) -> None:
    city = current_app.config["CITY"]
    link = f"{current_app.config['PUBLIC_URL']}/office/reset/{token}"
    with force_locale(language):
        subject = _("%(city)s back office: choose a new password", city=city)
        body = _(
            "Someone asked to choose a new password for your back-office account with "
            "%(city)s. If it was you, open this link within an hour:\n\n%(link)s\n\nIf it "
            "was not, ignore this message: your password stays as it is.",
            city=city,
            link=link,
        )
    current_app.extensions[SENDER](to=to, subject=subject, body=body, language=language)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def new_password(token: str) -> Any:
    """Choose a new password from a reset link; every session of the account ends."""
    session = db_session()
    secret_key = current_app.config["SECRET_KEY"]
    user = service.reset_account(db_session=session, token=token, secret_key=secret_key)
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            service.set_new_password(user=user, new=form.new.data)
        except InvalidInput as exc:
            for name, message in exc.fields.items():
                getattr(form, name).errors = [field_message(message)]
        else:
            session.commit()
            logout_user()
            flash(_("Your password was changed: sign in with it."), "success")
            return redirect(url_for("office.login"))
    status = 422 if form.errors else 200
    return render_template("office/new_password.html", form=form), status


@bp.route("/password", methods=["GET", "POST"])
@staff_required()
def password() -> str | Response | tuple[str, int]:
    """Change one's own password; staff with a one-time password are sent here first."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            service.change_password(
                db_session=db_session(),
                user=current_staff(),
                current=form.current.data,
                new=form.new.data,
            )
        except InvalidInput as exc:
            db_session().rollback()
            for name, message in exc.fields.items():
                getattr(form, name).errors = [field_message(message)]
        else:
            user = current_staff()  # the new password ended every session of the account
            db_session().commit()
            login_user(Principal(staff=user))  # this one goes on with the new version
            flash(_("Your password was changed."), "success")
            return redirect(url_for("cases.queue"))
    status = 422 if form.errors else 200
    return render_template("office/password.html", form=form), status


@bp.get("/staff")
@staff_required(Role.ADMIN)
def staff_list() -> str:
    """Every staff account, for administrators: create, disable, reset, role and department."""
    return _staff_page_with(None)


def _staff_page_with(one_time: tuple[str, str] | None) -> str:
    session = db_session()
    return render_template(
        "office/staff.html",
        users=service.list_staff(db_session=session),
        departments=service.list_departments(db_session=session),
        roles=list(Role),
        form=ActionForm(),
        one_time=one_time,
    )


@bp.post("/staff")
@staff_required(Role.ADMIN)
def staff_create() -> Any:
    """Add a staff member; the one-time password is shown once."""
    if not ActionForm().validate_on_submit():
        abort(400)
    session = db_session()
    password = service.one_time_password()
    try:
        user = service.create_user(
            db_session=session,
            email=request.form.get("email", ""),
            role=request.form.get("role", ""),
            password=password,
            name=request.form.get("name", "")[:200],
            department_code=request.form.get("department") or None,
        )
    except InvalidInput as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("office.staff_list"))
    session.commit()
    return _staff_page_with((user.email, password))


@bp.post("/staff/<int:user_id>/<action>")
@staff_required(Role.ADMIN)
def staff_change(user_id: int, action: str) -> Any:
    """Disable, enable, reset the password of, or change the role of a staff member."""
    if not ActionForm().validate_on_submit():
        abort(400)
    session = db_session()
    user = service.get(db_session=session, user_id=user_id)
    me = current_staff()
    if user.id == me.id and action in ("disable", "role"):
        flash(_("You cannot disable yourself or change your own role."), "error")
        return redirect(url_for("office.staff_list"))
    try:
        if action == "disable":
            service.set_active(user=user, active=False)
        elif action == "enable":
            service.set_active(user=user, active=True)
        elif action == "reset":
            password = service.reset_password(user=user)
            session.commit()
            return _staff_page_with((user.email, password))
        elif action == "role":
            service.change_role(
                db_session=session,
                user=user,
                role=request.form.get("role", ""),
                department_code=request.form.get("department") or None,
            )
        else:
            abort(404)
    except InvalidInput as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("office.staff_list"))
    session.commit()
    flash(_("%(email)s was changed.", email=user.email), "success")
    return redirect(url_for("office.staff_list"))
