"""Back-office sign-in, password change and the staff list."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from node.auth import Principal, current_staff, end_sessions, safe_next, staff_required
from node.database import db_session
from node.display import field_message
from node.errors import InvalidInput
from node.staff import service
from node.staff.forms import ChangePasswordForm, StaffLoginForm
from node.staff.models import Role

bp = Blueprint("office", __name__, url_prefix="/office")


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
            user = current_staff()
            end_sessions(user)
            db_session().commit()
            login_user(Principal(staff=user))  # this session goes on with the new version
            flash(_("Your password was changed."), "success")
            return redirect(url_for("cases.queue"))
    status = 422 if form.errors else 200
    return render_template("office/password.html", form=form), status


@bp.get("/staff")
@staff_required(Role.ADMIN)
def staff_list() -> str:
    """Every staff account, for administrators."""
    return render_template("office/staff.html", users=service.list_staff(db_session=db_session()))
